"""The app's entry points: route registration and middleware, the stream dispatch, the schedules.

Every Lambda handler lives in this package (the API in `app.py` through `api`, the stream and the
schedules in `events`). Importing it loads no slice: each handler wires the ports (`wiring.wire()`)
and imports the services it needs on its first call, so that a cold start pays only for what it runs.
"""
