"""Connectors: iocd talking to other systems' APIs (a Defender-compatible Indicators API)."""
