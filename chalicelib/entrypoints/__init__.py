"""The app's entry points: route registration and middleware, the stream dispatch, the schedules."""
