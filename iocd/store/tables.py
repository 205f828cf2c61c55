"""The SQL schema (SQLAlchemy Core), the single description the migrations must reproduce.

Invariants the store relies on:
- `indicators.id` is assigned by iocd (counters 'indicator_id'), never by the database.
- `mitre_techniques` and `rbac_group_names` hold the tuple joined by '|' ('' when empty); members
  are non-empty and never contain '|' (the domain checks both). Sorting on the joined text is
  exactly the in-memory store's order. `scope_key` is domain.scope.scope_key of the groups.
- `indicator_groups` holds one row per (indicator, group name), mirroring `rbac_group_names`,
  so visibility by device group is an indexed NOT EXISTS.
- At most one row with state 'active' per (indicator_type, value, scope_key): a partial unique
  index (the identity rule of SPEC section 1).
- `counters` rows: 'indicator_id' and 'sequence' hold the last value handed out (0 at start);
  'active' holds the number of rows with state 'active', kept exact by every insert and update.
- Accounts (migration 0002): `users.device_groups` is the tuple joined by '|' like the indicator
  tuples; `device_groups.rules` is JSON text {"names": [...], "domains": [...], "tags": [...],
  "os": [...]}. Natural keys are the primary keys; nothing references them (as in memory).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from iocd.store.types import Key, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

COUNTER_NAMES = ("indicator_id", "sequence", "active")

indicators = Table(
    "indicators",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=False),
    Column("indicator_type", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("raw_value", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("generate_alert", Boolean, nullable=False),
    Column("expiration_time", UtcDateTime, nullable=True),
    Column("recommended_actions", Text, nullable=True),
    Column("application", Text, nullable=True),
    Column("educate_url", Text, nullable=True),
    Column("external_id", Text, nullable=True),
    Column("category", Text, nullable=True),
    Column("mitre_techniques", Text, nullable=False),
    Column("rbac_group_names", Text, nullable=False),
    Column("scope_key", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_by_display_name", Text, nullable=False),
    Column("created_by_source", Text, nullable=False),
    Column("source_type", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Column("last_updated_by", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("override_justification", Text, nullable=True),
    Column("state_changed_at", UtcDateTime, nullable=True),
)
Index(
    "ux_indicators_active_identity",
    indicators.c.value,
    indicators.c.indicator_type,
    indicators.c.scope_key,
    unique=True,
    sqlite_where=text("state = 'active'"),
    postgresql_where=text("state = 'active'"),
)
Index(
    "ix_indicators_creator_external_id",
    indicators.c.created_by,
    indicators.c.external_id,
    sqlite_where=text("external_id IS NOT NULL"),
    postgresql_where=text("external_id IS NOT NULL"),
)
Index(
    "ix_indicators_active_expiry",
    indicators.c.expiration_time,
    sqlite_where=text("state = 'active' AND expiration_time IS NOT NULL"),
    postgresql_where=text("state = 'active' AND expiration_time IS NOT NULL"),
)

indicator_groups = Table(
    "indicator_groups",
    metadata,
    Column(
        "indicator_id",
        Key,
        ForeignKey("indicators.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("group_name", Text, primary_key=True),
)
Index("ix_indicator_groups_group_name", indicator_groups.c.group_name)

changes = Table(
    "changes",
    metadata,
    Column("sequence", Key, primary_key=True, autoincrement=False),
    Column("indicator_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("door", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("indicator_id", BigInteger, nullable=True),
    Column("changes", Text, nullable=False),
    Column("justification", Text, nullable=True),
    Column("sequence", BigInteger, nullable=True),
)
Index("ix_audit_indicator_id", audit.c.indicator_id)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

applications = Table(
    "applications",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("rate_limit_per_minute", Integer, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("device_groups", Text, nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("disabled", Boolean, nullable=False),
)

personal_tokens = Table(
    "personal_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("user_name", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)
Index("ix_personal_tokens_user_name", personal_tokens.c.user_name)

device_groups = Table(
    "device_groups",
    metadata,
    Column("name", Text, primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("rules", Text, nullable=False),
)

instance_settings = Table(
    "instance_settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
