"""HTTP routes (Chalice blueprints): parse, call one service function, shape the response."""
