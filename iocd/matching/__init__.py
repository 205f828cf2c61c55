"""Compiled indicator index and matching (pure). Arrives with the detection engine."""
