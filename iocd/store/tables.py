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
- `indicators.authority` (migration 0003) is 'Organisation' or 'Group' (domain AUTHORITY_NAMES).
- Alerts (migration 0003): ids come from the counters row 'alert_id' like indicator ids;
  `evidence`, `decision` and `comments` are JSON text (their wire forms); `mitre_techniques` is
  joined by '|' as on indicators. An open duplicate is found through (indicator_id, device_id,
  entity). `indicator_sightings` holds one row per indicator that ever matched, with
  `device_count` kept equal to its number of rows in `sighting_devices`.
- Accounts (migration 0002): `users.device_groups` is the tuple joined by '|' like the indicator
  tuples; `device_groups.rules` is JSON text {"names": [...], "domains": [...], "tags": [...],
  "os": [...]}. Natural keys are the primary keys; nothing references them (as in memory).
- Portal sessions (migration 0004): keyed by the SHA-256 of the cookie token (the token is never
  stored); expired rows are purged by time, through the two time indexes.
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

COUNTER_NAMES = (
    "indicator_id",
    "sequence",
    "active",
    "alert_id",
    "investigation_id",
    "remediation_task_id",
    "investigated_alert",
)

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
    Column("authority", String(16), nullable=False, server_default="Organisation"),
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

alerts = Table(
    "alerts",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=False),
    Column("indicator_id", BigInteger, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("entity_type", String(16), nullable=False),
    Column("entity", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("classification", String(48), nullable=True),
    Column("determination", String(48), nullable=True),
    Column("assigned_to", Text, nullable=True),
    Column("category", Text, nullable=True),
    Column("mitre_techniques", Text, nullable=False),
    Column("detection_source", String(32), nullable=False),
    Column("threat_name", Text, nullable=True),
    Column("computer_dns_name", Text, nullable=False),
    Column("rbac_group_name", Text, nullable=False),
    Column("recommended_actions", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated_at", UtcDateTime, nullable=False),
    Column("first_event_time", UtcDateTime, nullable=False),
    Column("last_event_time", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("historical", Boolean, nullable=False),
    Column("occurrences", BigInteger, nullable=False),
    Column("indicator_created_by", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("decision", Text, nullable=False),
    Column("comments", Text, nullable=False),
)
Index("ix_alerts_dedupe", alerts.c.indicator_id, alerts.c.device_id, alerts.c.entity)
Index("ix_alerts_status", alerts.c.status, alerts.c.id)
Index("ix_alerts_last_event_time", alerts.c.last_event_time)
Index("ix_alerts_created_at", alerts.c.created_at)

devices = Table(
    "devices",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("name", Text, nullable=True),
    Column("group_name", Text, nullable=True),
    Column("os", Text, nullable=True),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)

indicator_sightings = Table(
    "indicator_sightings",
    metadata,
    Column("indicator_id", Key, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("device_count", BigInteger, nullable=False),
)

sighting_devices = Table(
    "sighting_devices",
    metadata,
    Column("indicator_id", BigInteger, primary_key=True, autoincrement=False),
    Column("device_id", Text, primary_key=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user_name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)
Index("ix_sessions_user_name", sessions.c.user_name)
Index("ix_sessions_last_seen_at", sessions.c.last_seen_at)
Index("ix_sessions_created_at", sessions.c.created_at)

# Endpoint agents (migration 0005): enrolment tokens and devices keep only SHA-256 hashes of
# their secrets; `agents.tags` is JSON text (a list of strings); `agent_reports` remembers each
# report batch a device delivered, so a retried batch is acknowledged and not stored twice.
enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("max_uses", Integer, nullable=True),
    Column("uses", Integer, nullable=False),
    Column("group_name", Text, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

agents = Table(
    "agents",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("hostname", Text, nullable=False),
    Column("os", Text, nullable=False),
    Column("domain", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("group_name", Text, nullable=False),
    Column("group_bound", Boolean, nullable=False),
    Column("credential_hash", Text, nullable=False),
    Column("enrolled_at", UtcDateTime, nullable=False),
    Column("last_contact", UtcDateTime, nullable=False),
    Column("token_id", Text, nullable=False),
    Column("agent_version", Text, nullable=False),
    Column("applied_sequence", BigInteger, nullable=True),
    Column("applied_digest", Text, nullable=True),
    Column("file_enforcement", String(32), nullable=True),
    Column("network_enforcement", String(32), nullable=True),
)

agent_reports = Table(
    "agent_reports",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("batch_id", Text, primary_key=True),
    Column("received_at", UtcDateTime, nullable=False),
)

# Automated investigations (migration 0006): one per alert (unique `alert_id`); `body` is the JSON
# text of the wire form (domain.investigations), with the columns lists and scoping need beside
# it. Ids come from the counters rows 'investigation_id' and 'remediation_task_id'; the row
# 'investigated_alert' holds the last alert id the background pass has investigated.
investigations = Table(
    "investigations",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=False),
    Column("alert_id", BigInteger, nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("rbac_group_name", Text, nullable=False),
    Column("body", Text, nullable=False),
)
Index("ix_investigations_status", investigations.c.status, investigations.c.id)

remediation_tasks = Table(
    "remediation_tasks",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=False),
    Column("investigation_id", BigInteger, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("body", Text, nullable=False),
)
Index("ix_remediation_tasks_investigation_id", remediation_tasks.c.investigation_id)
Index("ix_remediation_tasks_device_id", remediation_tasks.c.device_id, remediation_tasks.c.status)

# Feeds (migration 0007): `options`, `defaults` and `state` are the JSON text of their wire forms
# (domain.feeds); ids come from the database (autoincrement). A run in progress holds the claim
# (`claimed_by`, `claimed_at`); `feed_runs` keeps every finished run, newest found by (feed_id, id).
feeds = Table(
    "feeds",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("options", Text, nullable=False),
    Column("defaults", Text, nullable=False),
    Column("cap", BigInteger, nullable=True),
    Column("interval_seconds", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", UtcDateTime, nullable=True),
)

feed_runs = Table(
    "feed_runs",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("feed_id", BigInteger, nullable=False),
    Column("feed_name", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("full_pass", Boolean, nullable=False),
    Column("fetched", BigInteger, nullable=False),
    Column("added", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("withdrawn", BigInteger, nullable=False),
    Column("unchanged", BigInteger, nullable=False),
    Column("skipped", BigInteger, nullable=False),
    Column("skip_reasons", Text, nullable=False),
    Column("error", Text, nullable=True),
)
Index("ix_feed_runs_feed_id", feed_runs.c.feed_id, feed_runs.c.id)
