"""Thin Faust agents, one per stage: they move bytes between topics and call the core."""
