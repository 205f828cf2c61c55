"""What the TAXII door serves, decided without I/O: the collections, the filters a request
carries, and how an indicator's versions are dated and told apart.

Collections: `all` holds every indicator; one collection per action holds the indicators whose
action it is (an indicator whose action changes moves from one to the other). Writing to an
action collection stores what is written with that action; writing to `all` takes the action
from the object's `iocd-action:` label, else Audit.

Versions: iocd keeps the current state of each indicator, so each object has one version, the
latest: its `modified` is when it last changed (millisecond precision, as STIX timestamps are
written). A deleted or expired indicator is served as a new version with `revoked: true`, dated
when it left the list; ids are never reused, so a revoked object never comes back (as STIX
requires).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from iocd.domain.types import Action, IndicatorState
from iocd.domain.versions import Version
from iocd.errors import NotFound

COLLECTION_NAMESPACE = uuid.UUID("0d6f2c1e-8b7a-5c4d-9e3f-2a1b0c9d8e7f")
"""Namespace of the collection ids; never change it, or every reader loses its collections."""

STIX_TYPE = "indicator"
SPEC_VERSION = "2.1"
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Collection:
    """One TAXII collection: `alias` names it in URLs too; `action` is None for `all`."""

    alias: str
    title: str
    description: str
    action: Action | None

    @property
    def id(self) -> str:
        return str(uuid.uuid5(COLLECTION_NAMESPACE, f"iocd-collection:{self.alias}"))


def _alias(action: Action) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in action.value).lstrip("-")


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "all",
        "All indicators",
        "Every indicator of the list, whatever its action (the action is a label, "
        "iocd-action:<Action>). Objects written here take their action from that label, "
        "else Audit.",
        None,
    ),
    *(
        Collection(
            _alias(action),
            f"{action.value} indicators",
            f"The indicators whose action is {action.value}. Objects written here are "
            f"stored with that action.",
            action,
        )
        for action in Action
    ),
)


def find_collection(key: str) -> Collection:
    """A collection by id or alias (NotFound otherwise)."""
    for collection in COLLECTIONS:
        if key in (collection.id, collection.alias):
            return collection
    raise NotFound(f"collection {key} not found")


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one request (TAXII 2.1 section 3.4). Empty tuples filter nothing.

    `version_keywords` holds `first`, `last` and `all` (each selects the one version iocd
    keeps); `version_times` holds the `modified` timestamps asked for.
    """

    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    version_keywords: frozenset[str] = frozenset()
    version_times: tuple[datetime, ...] = ()

    def excludes_everything(self) -> bool:
        """True when the type or spec-version filters rule out iocd's indicator objects."""
        return bool(
            (self.types and STIX_TYPE not in self.types)
            or (self.spec_versions and SPEC_VERSION not in self.spec_versions)
        )

    def keeps_version(self, modified: datetime) -> bool:
        if self.version_keywords or not self.version_times:
            return True
        return any(to_millisecond(t) == modified for t in self.version_times)


def to_millisecond(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def is_withdrawn(version: Version) -> bool:
    return version.indicator.state is not IndicatorState.ACTIVE


def modified_of(version: Version) -> datetime:
    """The version's `modified`: the last update, or for a withdrawn indicator when it left
    (always later than the last update, so it is a newer version)."""
    indicator = version.indicator
    updated = to_millisecond(max(indicator.last_updated_at, indicator.created_at))
    if not is_withdrawn(version):
        return updated
    return max(to_millisecond(version.change.at), updated + MILLISECOND)
