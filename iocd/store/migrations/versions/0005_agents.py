"""Endpoint agents: enrolment tokens, enrolled devices and delivered report batches.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from iocd.store.types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrollment_tokens",
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_enrollment_tokens"),
    )
    op.create_table(
        "agents",
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("os", sa.Text(), nullable=False),
        sa.Column("domain", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("group_name", sa.Text(), nullable=False),
        sa.Column("group_bound", sa.Boolean(), nullable=False),
        sa.Column("credential_hash", sa.Text(), nullable=False),
        sa.Column("enrolled_at", UtcDateTime(), nullable=False),
        sa.Column("last_contact", UtcDateTime(), nullable=False),
        sa.Column("token_id", sa.Text(), nullable=False),
        sa.Column("agent_version", sa.Text(), nullable=False),
        sa.Column("applied_sequence", sa.BigInteger(), nullable=True),
        sa.Column("applied_digest", sa.Text(), nullable=True),
        sa.Column("file_enforcement", sa.String(32), nullable=True),
        sa.Column("network_enforcement", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_agents"),
    )
    op.create_table(
        "agent_reports",
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "batch_id", name="pk_agent_reports"),
    )


def downgrade() -> None:
    op.drop_table("agent_reports")
    op.drop_table("agents")
    op.drop_table("enrollment_tokens")
