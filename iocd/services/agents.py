"""Endpoint agents: enrolment tokens, enrolment, device credentials and status (issue 6).

Administrators (global and security administrators, and organisation-wide applications) make,
list and revoke enrolment tokens. An agent enrols with a token and its facts (host name, OS,
domain, tags) and receives a device credential; the device lands in the token's group when the
token is bound to one, else in the group the rules give (policy.groups). Each status report
records the last contact, the policy it applied and the enforcement it has, and moves an unbound
device to the group its current facts give. Enrolled devices are also recorded in the alerts'
device registry. Every change is audited.
"""

from __future__ import annotations

import builtins
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from iocd.clock import Clock
from iocd.domain.accounts import UNGROUPED
from iocd.domain.agents import (
    DEVICE_PREFIX,
    ENROLL_PREFIX,
    AgentDevice,
    DeviceReport,
    EnrollmentToken,
    split_credential,
)
from iocd.domain.devices import Device
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, Role
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.policy.groups import DeviceFacts, group_for
from iocd.services import credentials
from iocd.services.accounts import Unauthorized
from iocd.services.alerts import AlertService
from iocd.services.ports import AgentsTransaction, Store

__all__ = ["AgentService", "AgentStatus", "device_principal"]

MAX_TOKEN_LIFETIME = timedelta(days=365)
ADMIN_ROLES = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.SECURITY_ADMINISTRATOR})


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What an agent reports besides its facts."""

    applied_sequence: int | None = None
    applied_digest: str | None = None
    file_enforcement: str | None = None
    network_enforcement: str | None = None


def device_principal(device: AgentDevice) -> Principal:
    """How a device acts where a principal is needed (telemetry ingest): it may post telemetry
    and nothing else."""
    return Principal(
        f"device:{device.device_id}",
        Role.READ_ONLY,
        "Agent",
        display_name=device.hostname,
        telemetry_only=True,
    )


class AgentService:
    def __init__(self, store: Store, clock: Clock, alerts: AlertService) -> None:
        self._store = store
        self._clock = clock
        self._alerts = alerts

    # -- enrolment tokens ---------------------------------------------------------------------

    @staticmethod
    def require_admin(principal: Principal) -> None:
        if principal.role not in ADMIN_ROLES or principal.own_only or principal.telemetry_only:
            raise Forbidden("only global and security administrators manage agents")

    def create_enrollment_token(
        self,
        principal: Principal,
        *,
        group: str | None = None,
        expires_in: timedelta = timedelta(hours=24),
        uses: int | None = None,
    ) -> tuple[EnrollmentToken, str]:
        """A new token and its text `iocd_enr_<id>_<secret>` (shown once; only a hash kept)."""
        self.require_admin(principal)
        if not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            raise InvalidInput("expires", "must be more than 0 and at most 365 days")
        if uses is not None and uses < 1:
            raise InvalidInput("uses", "must be at least 1")
        now = self._clock.now()
        token_id, secret = secrets.token_hex(8), credentials.new_secret()
        token = EnrollmentToken(
            token_id,
            credentials.digest(secret),
            now,
            principal.name,
            now + expires_in,
            uses,
            0,
            group.strip() if group else None,
        )
        with self._store.accounts(readonly=True) as accounts:
            known = {g.name for g in accounts.list_groups()} | {UNGROUPED}
        if token.group is not None and token.group not in known:
            raise InvalidInput("group", f"unknown device group {token.group!r}")
        with self._store.agents() as tx:
            tx.put_enrollment_token(token)
            self._audit(tx, principal, "enrollment token created", _token_record(token))
        return token, f"{ENROLL_PREFIX}{token_id}_{secret}"

    def list_enrollment_tokens(self, principal: Principal) -> builtins.list[EnrollmentToken]:
        self.require_admin(principal)
        with self._store.agents(readonly=True) as tx:
            return tx.list_enrollment_tokens()

    def revoke_enrollment_token(self, token_id: str, principal: Principal) -> EnrollmentToken:
        self.require_admin(principal)
        with self._store.agents() as tx:
            token = tx.get_enrollment_token(token_id)
            if token is None:
                raise NotFound(f"enrollment token {token_id} not found")
            if token.revoked_at is None:
                token = replace(token, revoked_at=self._clock.now())
                tx.put_enrollment_token(token)
                self._audit(tx, principal, "enrollment token revoked", {"tokenId": token_id})
            return token

    # -- enrolment and device credentials -----------------------------------------------------

    def enroll(self, token_text: str, report: DeviceReport) -> tuple[AgentDevice, str]:
        """Enrol a device with an enrolment token; returns it and its credential (shown once)."""
        parts = split_credential(token_text.strip(), ENROLL_PREFIX)
        if parts is None:
            raise Unauthorized("the enrollment token is not valid, expired, used up or revoked")
        now = self._clock.now()
        device_id, secret = str(uuid.uuid4()), credentials.new_secret()
        with self._store.agents() as tx:
            token = tx.get_enrollment_token(parts[0])
            if (
                token is None
                or not credentials.same_digest(token.secret_hash, parts[1])
                or not token.usable(now)
            ):
                raise Unauthorized("the enrollment token is not valid, expired, used up or revoked")
            group = token.group or self._group_for(report)
            device = AgentDevice(
                device_id=device_id,
                hostname=report.hostname,
                os=report.os,
                domain=report.domain,
                tags=report.tags,
                group=group,
                group_bound=token.group is not None,
                credential_hash=credentials.digest(secret),
                enrolled_at=now,
                last_contact=now,
                token_id=token.token_id,
                agent_version=report.agent_version,
            )
            tx.put_enrollment_token(replace(token, uses=token.uses + 1))
            tx.put_agent(device)
            record = {"deviceId": device_id, "hostname": report.hostname, "group": group}
            tx.append_audit(
                [
                    AuditEntry(
                        now,
                        device_principal(device).name,
                        "Agent",
                        "agent enrolled",
                        None,
                        {**record, "tokenId": token.token_id},
                    )
                ]
            )
        self._register(device)
        return device, f"{DEVICE_PREFIX}{device_id}_{secret}"

    def authenticate_device(self, bearer: str) -> AgentDevice:
        """The device behind a device credential (Unauthorized if none)."""
        parts = split_credential(bearer, DEVICE_PREFIX)
        device = None
        if parts is not None:
            with self._store.agents(readonly=True) as tx:
                device = tx.get_agent(parts[0])
        if (
            device is None
            or parts is None
            or not credentials.same_digest(device.credential_hash, parts[1])
        ):
            raise Unauthorized("the device credential is not valid")
        return device

    # -- status -------------------------------------------------------------------------------

    def report_status(
        self, device: AgentDevice, report: DeviceReport, status: AgentStatus
    ) -> AgentDevice:
        """Record a status report: facts, last contact, applied policy, enforcement."""
        now = self._clock.now()
        with self._store.agents() as tx:
            current = tx.get_agent(device.device_id) or device
            updated = replace(
                current,
                hostname=report.hostname or current.hostname,
                os=report.os or current.os,
                domain=report.domain or current.domain,
                tags=report.tags,
                agent_version=report.agent_version or current.agent_version,
                last_contact=now,
                applied_sequence=status.applied_sequence,
                applied_digest=status.applied_digest,
                file_enforcement=status.file_enforcement or current.file_enforcement,
                network_enforcement=status.network_enforcement or current.network_enforcement,
            )
            if not updated.group_bound:
                facts = DeviceReport(updated.hostname, updated.os, updated.domain, updated.tags)
                updated = replace(updated, group=self._group_for(facts))
            tx.put_agent(updated)
        if (updated.group, updated.hostname, updated.os) != (
            current.group,
            current.hostname,
            current.os,
        ):
            self._register(updated)
        return updated

    def touch(self, device: AgentDevice) -> None:
        """Record a contact (at most once a minute per device: polls are frequent)."""
        now = self._clock.now()
        if now - device.last_contact < timedelta(minutes=1):
            return
        with self._store.agents() as tx:
            current = tx.get_agent(device.device_id)
            if current is not None:
                tx.put_agent(replace(current, last_contact=now))

    def list_agents(self, principal: Principal) -> builtins.list[AgentDevice]:
        self.require_admin(principal)
        with self._store.agents(readonly=True) as tx:
            return tx.list_agents()

    def get_agent(self, device_id: str) -> AgentDevice | None:
        with self._store.agents(readonly=True) as tx:
            return tx.get_agent(device_id)

    # -- helpers ------------------------------------------------------------------------------

    def _group_for(self, report: DeviceReport) -> str:
        with self._store.accounts(readonly=True) as accounts:
            groups = accounts.list_groups()
        facts = DeviceFacts(report.hostname, report.domain, report.os, report.tags)
        return group_for(facts, groups)

    def _register(self, device: AgentDevice) -> None:
        now = self._clock.now()
        self._alerts.record_devices(
            [Device(device.device_id, now, now, device.hostname, device.group, device.os or None)]
        )

    def _audit(
        self, tx: AgentsTransaction, principal: Principal, action: str, changes: dict[str, Any]
    ) -> None:
        tx.append_audit(
            [AuditEntry(self._clock.now(), principal.name, principal.door, action, None, changes)]
        )


def _token_record(token: EnrollmentToken) -> dict[str, Any]:
    return {
        "tokenId": token.token_id,
        "group": token.group,
        "expiresAt": token.expires_at.isoformat(),
        "maxUses": token.max_uses,
    }
