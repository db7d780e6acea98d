"""Use cases: each public function is one thing an operator, participant or event does."""
