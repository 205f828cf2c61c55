"""Alerts, devices and sightings; the authority of each indicator.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from iocd.store.types import Key, UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Indicators stored before authority existed were created by administrators or applications
    # as far as anyone can tell now: organisation-wide.
    op.add_column(
        "indicators",
        sa.Column("authority", sa.String(16), nullable=False, server_default="Organisation"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", Key, autoincrement=False, nullable=False),
        sa.Column("indicator_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("classification", sa.String(48), nullable=True),
        sa.Column("determination", sa.String(48), nullable=True),
        sa.Column("assigned_to", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("mitre_techniques", sa.Text(), nullable=False),
        sa.Column("detection_source", sa.String(32), nullable=False),
        sa.Column("threat_name", sa.Text(), nullable=True),
        sa.Column("computer_dns_name", sa.Text(), nullable=False),
        sa.Column("rbac_group_name", sa.Text(), nullable=False),
        sa.Column("recommended_actions", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_updated_at", UtcDateTime(), nullable=False),
        sa.Column("first_event_time", UtcDateTime(), nullable=False),
        sa.Column("last_event_time", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("historical", sa.Boolean(), nullable=False),
        sa.Column("occurrences", sa.BigInteger(), nullable=False),
        sa.Column("indicator_created_by", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_dedupe", "alerts", ["indicator_id", "device_id", "entity"])
    op.create_index("ix_alerts_status", "alerts", ["status", "id"])
    op.create_index("ix_alerts_last_event_time", "alerts", ["last_event_time"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])

    op.create_table(
        "devices",
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("group_name", sa.Text(), nullable=True),
        sa.Column("os", sa.Text(), nullable=True),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_devices"),
    )

    op.create_table(
        "indicator_sightings",
        sa.Column("indicator_id", Key, autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("device_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("indicator_id", name="pk_indicator_sightings"),
    )

    op.create_table(
        "sighting_devices",
        sa.Column("indicator_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("indicator_id", "device_id", name="pk_sighting_devices"),
    )

    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "alert_id", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'alert_id'")
    for table in ("sighting_devices", "indicator_sightings", "devices", "alerts"):
        op.drop_table(table)  # drops the table's indexes with it
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("authority")
