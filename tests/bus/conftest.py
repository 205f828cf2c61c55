"""The PostgreSQL fixtures of the store contract suite, for the distributed bus test."""

from tests.contract.conftest import (  # noqa: F401
    postgres_admin,
    postgres_engine,
    postgres_url,
)
