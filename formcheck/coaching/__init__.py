"""Coaching: the coach's ranked fixes and plan, progress between sessions, interval timing (the cues' specs are
formcheck.cues)."""
