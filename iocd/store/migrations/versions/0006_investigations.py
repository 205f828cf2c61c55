"""Automated investigations and remediation tasks.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from iocd.store.types import Key

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("investigation_id", "remediation_task_id", "investigated_alert")


def upgrade() -> None:
    op.create_table(
        "investigations",
        sa.Column("id", Key, autoincrement=False, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rbac_group_name", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_investigations"),
        sa.UniqueConstraint("alert_id", name="uq_investigations_alert_id"),
    )
    op.create_index("ix_investigations_status", "investigations", ["status", "id"])
    op.create_table(
        "remediation_tasks",
        sa.Column("id", Key, autoincrement=False, nullable=False),
        sa.Column("investigation_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_remediation_tasks"),
    )
    op.create_index(
        "ix_remediation_tasks_investigation_id", "remediation_tasks", ["investigation_id"]
    )
    op.create_index(
        "ix_remediation_tasks_device_id", "remediation_tasks", ["device_id", "status"]
    )
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": name, "value": 0} for name in COUNTERS])


def downgrade() -> None:
    names = ", ".join(f"'{name}'" for name in COUNTERS)
    op.execute(f"DELETE FROM counters WHERE name IN ({names})")  # noqa: S608
    op.drop_index("ix_remediation_tasks_device_id", "remediation_tasks")
    op.drop_index("ix_remediation_tasks_investigation_id", "remediation_tasks")
    op.drop_table("remediation_tasks")
    op.drop_index("ix_investigations_status", "investigations")
    op.drop_table("investigations")
