"""Who is acting: a user or an application, its role, its device groups and the door it came by."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    GLOBAL_ADMINISTRATOR = "GlobalAdministrator"
    SECURITY_ADMINISTRATOR = "SecurityAdministrator"
    ANALYST = "Analyst"
    READ_ONLY = "ReadOnly"


class PrincipalKind(StrEnum):
    """Wire values of `sourceType`."""

    USER = "User"
    APPLICATION = "AadApp"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a service. `name` is the user name or the application's client id.

    `own_only` marks an application holding `Ti.ReadWrite`: it sees and changes only what it
    created.
    `door` becomes `createdBySource` (Portal, PublicApi, Import, Cli, Feed:<name>).
    `telemetry_only` marks a telemetry forwarder (application role `Telemetry.Write`): the doors
    let it post telemetry and refuse it everything else.
    """

    name: str
    role: Role
    door: str
    kind: PrincipalKind = PrincipalKind.USER
    display_name: str = ""
    device_groups: frozenset[str] = field(default_factory=frozenset)
    own_only: bool = False
    telemetry_only: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def via(self, door: str) -> Principal:
        """The same caller acting through another door."""
        return Principal(
            self.name,
            self.role,
            door,
            self.kind,
            self.display_name,
            self.device_groups,
            self.own_only,
            self.telemetry_only,
        )
