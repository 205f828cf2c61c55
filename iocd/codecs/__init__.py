"""Codecs: CSV, plain lists (later STIX, MISP, telemetry)."""
