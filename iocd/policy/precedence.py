"""Precedence (SPEC section 4): which of the indicators matching one entity on one device decides.

`decide(candidates, device_group=..., entity=...)` answers a `Decision`: the enforcement, whether to
alert, the winning candidate, the rule that separated it from the runner-up, every loser with the
reason it lost, the candidates that raise an alert, and notes for a person.

The order, compared as one sort key per candidate (highest wins):

1. Authority: organisation-wide (`Authority.ORGANISATION`) beats group (`Authority.GROUP`).
2. Specificity, by match kind then `Candidate.specificity`:
   - files: certificate that Blocks (Block, BlockAndRemediate) > SHA-256 > SHA-1 > MD5 >
     certificate that does not block (Allowed). A blocking certificate ranks above every hash, not
     only above a hash Allow: the order must be total (SHA-256 Allow beats SHA-1 Block, so a
     certificate Block that beats the SHA-256 Allow must beat the SHA-1 Block too). The price: a
     certificate Block beats a hash BlockAndRemediate, so the file is blocked but not remediated.
   - network: URL (longer matching path first) > exact host > parent domain (more labels first) >
     exact IP > CIDR (longer prefix first). An event that carries several (an HTTP request has a
     URL, a host and an address) ranks the name-based ones first: they say more about the request.
3. Scope: a device-group indicator beats an all-devices one.
4. Action: network Allowed > Warn > Block (BlockAndRemediate, not valid on network indicators,
   counts as Block); files and certificates BlockAndRemediate > Block > Warn > Allowed.
5. Age: the lower indicator id (the older indicator) wins, so the answer is always the same.

Invariants:
- Pure and order-independent: the decision does not depend on the order of `candidates`; losers are
  listed best first, alerts winner first then Audit candidates by id.
- Candidates scoped to other device groups are dropped before anything else and are not listed as
  losers: a decision is stored with alerts and shown to people who may not see those groups.
- Audit candidates never take part in the contest and never change enforcement; each one adds an
  alert (Audit always alerts). They are listed in `alerts`, not in `losers`.
- An Allowed winner never alerts; any other winner alerts when its `generate_alert` is set.
- A file validly signed by a trusted publisher is not blocked by a hash Block or BlockAndRemediate
  winner created without the guardrail override: enforcement becomes `none`, the winner is alerted
  on, and a note says why. A certificate Block is enforced as usual. (The contest itself is not
  changed, so a group Allow cannot win over an organisation Block just because the file is signed.)
- The winner is always one of the applicable, non-Audit candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from iocd.domain.decision import (
    NO_MATCH,
    Candidate,
    Decision,
    Enforcement,
    EntityKind,
    FileContext,
    MatchKind,
)
from iocd.domain.types import Action

__all__ = [
    "RULES",
    "RULE_ACTION",
    "RULE_AGE",
    "RULE_AUDIT_ONLY",
    "RULE_AUTHORITY",
    "RULE_NO_MATCH",
    "RULE_ONLY",
    "RULE_SCOPE",
    "RULE_SPECIFICITY",
    "decide",
    "match_label",
]

RULE_AUTHORITY = "authority"
RULE_SPECIFICITY = "specificity"
RULE_SCOPE = "scope"
RULE_ACTION = "action"
RULE_AGE = "age"
RULES = (RULE_AUTHORITY, RULE_SPECIFICITY, RULE_SCOPE, RULE_ACTION, RULE_AGE)
"""The contest rules in order; `Decision.rule` is one of these when two or more competed."""
RULE_ONLY = "only candidate"
RULE_AUDIT_ONLY = "audit only"
RULE_NO_MATCH = NO_MATCH.rule

_BLOCKING = frozenset({Action.BLOCK, Action.BLOCK_AND_REMEDIATE})
_HASHES = frozenset({MatchKind.SHA256, MatchKind.SHA1, MatchKind.MD5})

# Specificity tier per match kind; files and network never meet in one decision.
_TIER = {
    MatchKind.SHA256: 4,
    MatchKind.SHA1: 3,
    MatchKind.MD5: 2,
    MatchKind.CERTIFICATE: 1,
    MatchKind.URL: 5,
    MatchKind.HOST: 4,
    MatchKind.PARENT_DOMAIN: 3,
    MatchKind.IP: 2,
    MatchKind.CIDR: 1,
}
_CERTIFICATE_BLOCK_TIER = 5
_KIND_RANK: dict[tuple[MatchKind, Action], int] = {
    (kind, action): (
        _CERTIFICATE_BLOCK_TIER if kind is MatchKind.CERTIFICATE and action in _BLOCKING else tier
    )
    for kind, tier in _TIER.items()
    for action in Action
}

_ACTION_RANK: dict[EntityKind, dict[Action, int]] = {
    EntityKind.NETWORK: {
        Action.ALLOWED: 3,
        Action.WARN: 2,
        Action.BLOCK: 1,
        Action.BLOCK_AND_REMEDIATE: 1,
        Action.AUDIT: 0,
    },
    EntityKind.FILE: {
        Action.BLOCK_AND_REMEDIATE: 4,
        Action.BLOCK: 3,
        Action.WARN: 2,
        Action.ALLOWED: 1,
        Action.AUDIT: 0,
    },
}
_ENTITY_WORDS = {EntityKind.NETWORK: "network entities", EntityKind.FILE: "files"}

_ENFORCEMENT = {
    Action.ALLOWED: Enforcement.ALLOW,
    Action.WARN: Enforcement.WARN,
    Action.BLOCK: Enforcement.BLOCK,
    Action.BLOCK_AND_REMEDIATE: Enforcement.BLOCK_AND_REMEDIATE,
}

_LABEL = {
    MatchKind.SHA256: "SHA-256",
    MatchKind.SHA1: "SHA-1",
    MatchKind.MD5: "MD5",
    MatchKind.CERTIFICATE: "certificate",
    MatchKind.URL: "URL",
    MatchKind.HOST: "exact host",
    MatchKind.PARENT_DOMAIN: "parent domain",
    MatchKind.IP: "exact IP",
    MatchKind.CIDR: "CIDR",
}

# (authority, kind rank, specificity, device-group scoped, action rank, -id)
_Key = tuple[int, int, int, int, int, int]
_RULE_AT = (RULE_AUTHORITY, RULE_SPECIFICITY, RULE_SPECIFICITY, RULE_SCOPE, RULE_ACTION, RULE_AGE)
_first = itemgetter(0)


def match_label(candidate: Candidate) -> str:
    """How a candidate matched, in words ("SHA-256", "URL path of 3 segments", "CIDR /24")."""
    match, n = candidate.match, candidate.specificity
    if match is MatchKind.URL:
        return f"URL path of {n} segment{'' if n == 1 else 's'}"
    if match is MatchKind.PARENT_DOMAIN:
        return f"parent domain of {n} label{'' if n == 1 else 's'}"
    if match is MatchKind.CIDR:
        return f"CIDR /{n}"
    if match is MatchKind.CERTIFICATE and candidate.indicator.action in _BLOCKING:
        return "certificate Block"
    return _LABEL[match]


def decide(
    candidates: Sequence[Candidate],
    *,
    device_group: str,
    entity: EntityKind,
    file: FileContext | None = None,
) -> Decision:
    """What the list decides for one entity on a device of `device_group` (SPEC section 4)."""
    action_rank = _ACTION_RANK[entity]
    contest: list[tuple[_Key, Candidate]] = []
    audits: list[Candidate] = []
    for candidate in candidates:
        indicator = candidate.indicator
        groups = indicator.groups
        if groups and device_group not in groups:
            continue
        action = indicator.action
        if action is Action.AUDIT:
            audits.append(candidate)
            continue
        key = (
            indicator.authority,
            _KIND_RANK[candidate.match, action],
            candidate.specificity,
            1 if groups else 0,
            action_rank[action],
            -indicator.id,
        )
        contest.append((key, candidate))

    alerts: list[Candidate] = []
    if audits:
        if len(audits) > 1:
            audits.sort(key=_audit_order)
        alerts.extend(audits)

    if not contest:
        if not alerts:
            return NO_MATCH
        return Decision(Enforcement.NONE, True, None, RULE_AUDIT_ONLY, alerts=tuple(alerts))

    if len(contest) == 1:
        winner_key, winner = contest[0]
        rule = RULE_ONLY
        losers: tuple[tuple[Candidate, str], ...] = ()
    else:
        contest.sort(key=_first, reverse=True)
        winner_key, winner = contest[0]
        position = _first_difference(winner_key, contest[1][0])
        rule = _RULE_AT[position]
        runner_up = contest[1][1]
        losers = ((runner_up, _reason(winner, runner_up, position, entity)),)
        if len(contest) > 2:
            losers += tuple(
                (loser, _reason(winner, loser, _first_difference(winner_key, key), entity))
                for key, loser in contest[2:]
            )

    action = winner.indicator.action
    enforcement = _ENFORCEMENT[action]
    notes: tuple[str, ...] = ()
    if (
        file is not None
        and entity is EntityKind.FILE
        and action in _BLOCKING
        and winner.match in _HASHES
        and not winner.indicator.overridden
        and file.trusted
    ):
        enforcement = Enforcement.NONE
        alerts.insert(0, winner)
        notes = (
            f"file is validly signed by a trusted publisher; hash {action.value} indicator "
            f"{winner.indicator.id} was not enforced because it was created without the "
            "guardrail override; alerted instead",
        )
    elif action is not Action.ALLOWED and winner.indicator.generate_alert:
        alerts.insert(0, winner)
    return Decision(enforcement, bool(alerts), winner, rule, losers, tuple(alerts), notes)


def _audit_order(candidate: Candidate) -> tuple[int, int, int]:
    return (candidate.indicator.id, _TIER[candidate.match], candidate.specificity)


def _first_difference(winner: _Key, other: _Key) -> int:
    """The key position of the rule that separates two candidates (5, age, when none other)."""
    if winner[0] != other[0]:
        return 0
    if winner[1] != other[1] or winner[2] != other[2]:
        return 1
    if winner[3] != other[3]:
        return 3
    if winner[4] != other[4]:
        return 4
    return 5


def _reason(winner: Candidate, loser: Candidate, position: int, entity: EntityKind) -> str:
    """Why `loser` lost to `winner`: the first rule on which their keys differ."""
    rule = _RULE_AT[position]
    won, lost = winner.indicator, loser.indicator
    if rule == RULE_AUTHORITY:
        return f"authority: organisation-wide indicator {won.id} beats group indicator {lost.id}"
    if rule == RULE_SPECIFICITY:
        if (
            winner.match is MatchKind.CERTIFICATE
            and loser.match in _HASHES
            and lost.action is Action.ALLOWED
        ):
            return "specificity: certificate Block beats hash Allow"
        return f"specificity: {match_label(winner)} beats {match_label(loser)}"
    if rule == RULE_SCOPE:
        return f"scope: device-group indicator {won.id} beats all-devices indicator {lost.id}"
    if rule == RULE_ACTION:
        return f"action: {won.action.value} beats {lost.action.value} for {_ENTITY_WORDS[entity]}"
    if won.id == lost.id:
        return f"age: indicator {lost.id} matched more than once"
    return f"age: older indicator {won.id} beats {lost.id}"
