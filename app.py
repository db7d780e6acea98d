"""Fission's Chalice app: created here, wired by chalicelib's entry points (routes, middleware, events); no logic."""

from chalice.app import Chalice

from chalicelib.entrypoints import api

app = Chalice(app_name="fission")
api.install(app)
