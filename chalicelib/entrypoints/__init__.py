"""The app's entry points: route registration and middleware, the stream dispatch, the schedules.

Every Lambda handler lives in this package (the API in `app.py` through `api`, the stream and the
schedules in `events`), so importing it is where the ports are wired, whichever handler starts.
"""

from chalicelib.entrypoints import wiring

wiring.wire()
