"""Initial schema: indicators, their device groups, the change sequence, audit and counters.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from iocd.store.types import Key, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", Key, autoincrement=False, nullable=False),
        sa.Column("indicator_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("raw_value", sa.Text(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("generate_alert", sa.Boolean(), nullable=False),
        sa.Column("expiration_time", UtcDateTime(), nullable=True),
        sa.Column("recommended_actions", sa.Text(), nullable=True),
        sa.Column("application", sa.Text(), nullable=True),
        sa.Column("educate_url", sa.Text(), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("mitre_techniques", sa.Text(), nullable=False),
        sa.Column("rbac_group_names", sa.Text(), nullable=False),
        sa.Column("scope_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_by_display_name", sa.Text(), nullable=False),
        sa.Column("created_by_source", sa.Text(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_updated_by", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("override_justification", sa.Text(), nullable=True),
        sa.Column("state_changed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_indicators"),
    )
    # Active indicators are found by value through the partial unique index (value first), so
    # no other index leads with a column that every active row shares: without statistics,
    # SQLite's planner would take an index on `state` and scan every active row. Listings walk the
    # primary key in id order.
    op.create_index(
        "ux_indicators_active_identity",
        "indicators",
        ["value", "indicator_type", "scope_key"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index(
        "ix_indicators_creator_external_id",
        "indicators",
        ["created_by", "external_id"],
        sqlite_where=sa.text("external_id IS NOT NULL"),
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_index(
        "ix_indicators_active_expiry",
        "indicators",
        ["expiration_time"],
        sqlite_where=sa.text("state = 'active' AND expiration_time IS NOT NULL"),
        postgresql_where=sa.text("state = 'active' AND expiration_time IS NOT NULL"),
    )

    op.create_table(
        "indicator_groups",
        sa.Column("indicator_id", Key, autoincrement=False, nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name="fk_indicator_groups_indicator_id_indicators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "group_name", name="pk_indicator_groups"),
    )
    op.create_index("ix_indicator_groups_group_name", "indicator_groups", ["group_name"])

    op.create_table(
        "changes",
        sa.Column("sequence", Key, autoincrement=False, nullable=False),
        sa.Column("indicator_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_changes"),
    )

    op.create_table(
        "audit",
        sa.Column("id", Key, autoincrement=True, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("door", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("indicator_id", sa.BigInteger(), nullable=True),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_indicator_id", "audit", ["indicator_id"])

    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.bulk_insert(
        counters,
        [
            {"name": "indicator_id", "value": 0},
            {"name": "sequence", "value": 0},
            {"name": "active", "value": 0},
        ],
    )


def downgrade() -> None:
    for table in ("counters", "audit", "changes", "indicator_groups", "indicators"):
        op.drop_table(table)  # drops the table's indexes with it
