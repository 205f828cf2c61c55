"""The error tree of iocd. Doors map these to status codes in exactly one table each.

    IocdError
    ├── InvalidInput            a value or request is malformed (carries field, reason, code)
    │   └── InvalidValue        an indicator value fails its type's normaliser
    ├── NotFound                the thing asked for does not exist (or is out of the caller's sight)
    ├── Forbidden               the caller may not do this
    ├── GuardrailRefused        the write would block something known to be benign
    ├── CapacityExceeded        the active-indicator cap would be passed
    └── Conflict                the write contradicts stored state

Errors carry no HTTP status: the API owns that mapping.
"""

from __future__ import annotations


class IocdError(Exception):
    """Base of every error iocd raises on purpose."""

    code = "InvalidInput"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(IocdError):
    """Input that cannot be accepted; `field` names what was wrong, `reason` says why."""

    def __init__(self, field: str, reason: str, code: str = "InvalidInput") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code


class InvalidValue(InvalidInput):
    """An indicator value that its type's normaliser rejects."""


class NotFound(IocdError):
    code = "NotFound"


class Forbidden(IocdError):
    code = "Forbidden"


class GuardrailRefused(IocdError):
    """The write would block something known to be benign; an override with a justification
    allows it."""

    code = "InvalidInput"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"refused by guardrail: {reason}; "
            "send an override with a justification to store it anyway"
        )
        self.reason = reason


class CapacityExceeded(IocdError):
    code = "InvalidInput"


class Conflict(IocdError):
    code = "InvalidInput"
