"""Skip a test whose outside service (PostgreSQL, NATS, ...) is missing, unless CI requires it.

With IOCD_REQUIRE_SERVICES=1 a missing service fails the test instead, so a CI job that
provides the services cannot pass by silently skipping them.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ENV = "IOCD_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def require_or_skip(reason: str) -> NoReturn:
    """Skip with `reason`; fail instead when IOCD_REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(reason)
