"""On both SQL backends the migrated schema is the one tables.py describes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from iocd.store.tables import metadata


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migrated_schema_matches_metadata(backend: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(f"{backend}_engine")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("indicators")}
    assert indexes["ux_indicators_active_identity"]["unique"]
    assert set(indexes) >= {
        "ux_indicators_active_identity",
        "ix_indicators_creator_external_id",
        "ix_indicators_active_expiry",
    }
