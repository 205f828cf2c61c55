"""Device-group scope of an indicator: a set of group names, empty for all devices."""

from __future__ import annotations

from collections.abc import Iterable

from iocd.errors import InvalidInput

SEPARATOR = "|"
MAX_GROUP_NAME = 128


def check_group_names(names: Iterable[str], field: str = "rbacGroupNames") -> tuple[str, ...]:
    """Trimmed, de-duplicated, sorted group names; each non-empty, without `|` (the scope-key
    separator) or `,` (the CSV list separator)."""
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if SEPARATOR in name or "," in name:
            raise InvalidInput(
                field, f"device group name {name!r} may not contain {SEPARATOR!r} or ','"
            )
        if len(name) > MAX_GROUP_NAME:
            raise InvalidInput(
                field, f"device group name is longer than {MAX_GROUP_NAME} characters"
            )
        seen.add(name)
    return tuple(sorted(seen))


def scope_key(names: tuple[str, ...]) -> str:
    """A stable text key of a (sorted) scope: `|a|b|`, or the empty string for all devices."""
    if not names:
        return ""
    return SEPARATOR + SEPARATOR.join(names) + SEPARATOR
