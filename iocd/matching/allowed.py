"""Allowed indicators against the entries of a block list (the outputs for enforcement points).

An output lists values to block. An Allowed indicator exempts an entry when, for the value of
that entry taken as an entity, precedence (policy.precedence) makes the Allowed indicator win
over the entry: the contest is between the entry and the Allowed indicators that match its
value the way the matchers would (single.py):

- a hash: the Allowed indicator of the same hash;
- a domain: an Allowed domain equal to it (exact host) or a parent of it;
- a URL: an Allowed URL it falls under, and an Allowed domain of its host or a parent;
- an address: the Allowed address itself, or an Allowed CIDR block containing it;
- a CIDR block: an Allowed CIDR block containing the whole block (as long or shorter prefix).

So an Allowed domain exempts a Block of the same domain, and of a subdomain only when it
outranks it by authority (an organisation-wide Allowed over an analyst's group Block); a Block
on a parent stays listed (a plain list cannot carve a subdomain out of it; RPZ can, with
passthru rules). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from iocd.domain.decision import Candidate, EntityKind, ListedIndicator, MatchKind
from iocd.domain.types import Action, IndicatorType
from iocd.matching.addresses import cidr, ip_packed
from iocd.matching.index import specificity
from iocd.matching.single import domain_keys, url_host, url_keys
from iocd.policy.precedence import decide

__all__ = ["AllowedList", "allowed_wins", "own_candidate"]

_HASH_KIND = {
    IndicatorType.FILE_SHA256: MatchKind.SHA256,
    IndicatorType.FILE_SHA1: MatchKind.SHA1,
    IndicatorType.FILE_MD5: MatchKind.MD5,
    IndicatorType.CERTIFICATE_THUMBPRINT: MatchKind.CERTIFICATE,
}


def _kind_of(indicator: ListedIndicator) -> MatchKind:
    """How an indicator matches its own value."""
    kind = _HASH_KIND.get(indicator.indicator_type)
    if kind is not None:
        return kind
    if indicator.indicator_type is IndicatorType.DOMAIN_NAME:
        return MatchKind.HOST
    if indicator.indicator_type is IndicatorType.URL:
        return MatchKind.URL
    return MatchKind.CIDR if "/" in indicator.value else MatchKind.IP


def own_candidate(indicator: ListedIndicator) -> Candidate:
    """The indicator as a candidate for its own value."""
    kind = _kind_of(indicator)
    return Candidate(indicator, kind, specificity(indicator, kind))


def _candidate(indicator: ListedIndicator, kind: MatchKind) -> Candidate:
    return Candidate(indicator, kind, specificity(indicator, kind))


class AllowedList:
    """The Allowed indicators of a view, looked up by the values they would exempt."""

    def __init__(self, allowed: Iterable[ListedIndicator]) -> None:
        self._exact: dict[tuple[IndicatorType, str], list[ListedIndicator]] = {}
        self._blocks: dict[int, dict[int, list[ListedIndicator]]] = {}  # length -> net -> ...
        self.size = 0
        for indicator in allowed:
            if indicator.action is not Action.ALLOWED:
                continue
            self.size += 1
            value = indicator.value
            if indicator.indicator_type is IndicatorType.IP_ADDRESS and "/" in value:
                found = cidr(value)
                if found is not None:
                    network, length = found
                    self._blocks.setdefault(length, {}).setdefault(network, []).append(indicator)
                continue
            if indicator.indicator_type is IndicatorType.URL:
                value = value.partition("://")[2]
            self._exact.setdefault((indicator.indicator_type, value), []).append(indicator)
        self._lengths = sorted(self._blocks)

    def __len__(self) -> int:
        return self.size

    def _find(self, indicator_type: IndicatorType, key: str) -> list[ListedIndicator]:
        return self._exact.get((indicator_type, key), [])

    def candidates(self, entry: ListedIndicator) -> list[Candidate]:
        """The Allowed indicators matching the entry's value, as candidates."""
        if not self.size:
            return []
        kind = entry.indicator_type
        if kind in _HASH_KIND:
            return [_candidate(a, _HASH_KIND[kind]) for a in self._find(kind, entry.value)]
        if kind is IndicatorType.DOMAIN_NAME:
            return self._domain(entry.value)
        if kind is IndicatorType.URL:
            out = [
                _candidate(a, MatchKind.URL)
                for key in url_keys(entry.value)
                for a in self._find(IndicatorType.URL, key)
            ]
            host = url_host(entry.value)
            return out + (self._domain(host) if host else [])
        return self._address(entry.value)

    def _domain(self, name: str) -> list[Candidate]:
        out: list[Candidate] = []
        for position, (key, _) in enumerate(domain_keys(name)):
            kind = MatchKind.HOST if position == 0 else MatchKind.PARENT_DOMAIN
            out.extend(_candidate(a, kind) for a in self._find(IndicatorType.DOMAIN_NAME, key))
        return out

    def _address(self, value: str) -> list[Candidate]:
        if "/" in value:
            found = cidr(value)
            if found is None:
                return []
            number, longest = found
        else:
            out = [_candidate(a, MatchKind.IP) for a in self._find(IndicatorType.IP_ADDRESS, value)]
            packed = ip_packed(value)
            if packed is None:
                return out
            number, longest = int.from_bytes(packed[0], "big"), 128
            if not self._lengths:
                return out
            return out + self._containing(number, longest)
        return self._containing(number, longest)

    def _containing(self, number: int, longest: int) -> list[Candidate]:
        out = []
        for length in self._lengths:
            if length > longest:
                break
            network = number & ~((1 << (128 - length)) - 1)
            for allowed in self._blocks[length].get(network, ()):
                out.append(_candidate(allowed, MatchKind.CIDR))
        return out

    def enforced(self, entry: ListedIndicator, groups: Sequence[str]) -> bool:
        """Whether the entry still blocks (or warns) for a device in at least one of `groups`
        once the Allowed indicators matching its value have had their say."""
        others = self.candidates(entry)
        if not others:
            return True
        candidates = [own_candidate(entry), *others]
        entity = EntityKind.FILE if entry.indicator_type in _HASH_KIND else EntityKind.NETWORK
        for group in groups:
            if not entry.applies_to(group):
                continue
            winner = decide(candidates, device_group=group, entity=entity).winner
            if winner is not None and winner.indicator.action is not Action.ALLOWED:
                return True
        return False


def allowed_wins(candidates: Sequence[Candidate], groups: Sequence[str]) -> bool:
    """Whether an Allowed indicator decides the entity for every group of the view that any
    candidate applies to, and there is at least one such group (RPZ passthru)."""
    decided = False
    for group in groups:
        winner = decide(candidates, device_group=group, entity=EntityKind.NETWORK).winner
        if winner is None:
            continue
        if winner.indicator.action is not Action.ALLOWED:
            return False
        decided = True
    return decided
