"""The pytest11 entry point (being built)."""
