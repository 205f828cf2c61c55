"""iocd: one list of indicators of compromise, honoured by every engine."""

__version__ = "0.1.0"
