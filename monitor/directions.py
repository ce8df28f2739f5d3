"""The directions of a clause change, and which of them alert by default (shared by changes, alerts, store, web)."""

DIRECTIONS = ("tightened", "loosened", "reworded", "unclear")
ALERTING_DIRECTIONS = ("tightened", "unclear")
