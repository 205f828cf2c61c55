"""The endpoint agent."""
