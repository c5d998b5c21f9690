"""Coaching: one spec per cue, the coach's ranked fixes and plan, progress between sessions, interval timing."""
