"""Change bus: in-process and NATS."""
