"""Precedence (SPEC section 4): one table row per rule and per pair of rules, the named cases,
and properties (order independence; the winner is an applicable, non-Audit candidate)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import (
    NO_MATCH,
    Authority,
    Candidate,
    Decision,
    Enforcement,
    EntityKind,
    FileContext,
    ListedIndicator,
    MatchKind,
)
from iocd.domain.types import Action, IndicatorType
from iocd.policy.precedence import (
    RULE_ACTION,
    RULE_AGE,
    RULE_AUDIT_ONLY,
    RULE_AUTHORITY,
    RULE_ONLY,
    RULE_SCOPE,
    RULE_SPECIFICITY,
    decide,
)

A, M = Action, MatchKind
FILE, NET = EntityKind.FILE, EntityKind.NETWORK
DEVICE_GROUP = "Servers"
TRUSTED = FileContext(signature_valid=True, signer_trusted=True)

TYPE_OF = {
    M.SHA256: IndicatorType.FILE_SHA256,
    M.SHA1: IndicatorType.FILE_SHA1,
    M.MD5: IndicatorType.FILE_MD5,
    M.CERTIFICATE: IndicatorType.CERTIFICATE_THUMBPRINT,
    M.URL: IndicatorType.URL,
    M.HOST: IndicatorType.DOMAIN_NAME,
    M.PARENT_DOMAIN: IndicatorType.DOMAIN_NAME,
    M.IP: IndicatorType.IP_ADDRESS,
    M.CIDR: IndicatorType.IP_ADDRESS,
}


def cand(
    id: int,
    match: MatchKind,
    action: Action,
    specificity: int = 0,
    *,
    scoped: bool = False,
    group: bool = False,
    overridden: bool = False,
    alert: bool = True,
    groups: frozenset[str] | None = None,
) -> Candidate:
    """A candidate; `scoped` puts it on the device's group, `group` gives it group authority."""
    indicator = ListedIndicator(
        id=id,
        indicator_type=TYPE_OF[match],
        value=f"value-{id}",
        action=action,
        groups=groups if groups is not None else frozenset({DEVICE_GROUP} if scoped else ()),
        authority=Authority.GROUP if group else Authority.ORGANISATION,
        overridden=overridden,
        generate_alert=alert,
    )
    return Candidate(indicator, match, specificity)


def ids(candidates: tuple[Candidate, ...]) -> list[int]:
    return [c.indicator.id for c in candidates]


@dataclass(frozen=True)
class Row:
    name: str
    entity: EntityKind
    candidates: list[Candidate]
    winner: int
    rule: str
    enforcement: Enforcement
    reason: str = ""
    file: FileContext | None = None


# In every two-candidate row the winner has the HIGHER id, so the age tie-break alone would pick
# the other one: each row also shows that its rule beats age.
SINGLE_RULES = [
    # files
    Row(
        "file authority",
        FILE,
        [cand(1, M.SHA256, A.BLOCK, group=True), cand(2, M.SHA256, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
        "authority: organisation-wide indicator 2 beats group indicator 1",
    ),
    Row(
        "file specificity",
        FILE,
        [cand(1, M.MD5, A.BLOCK), cand(2, M.SHA256, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: SHA-256 beats MD5",
    ),
    Row(
        "file scope",
        FILE,
        [cand(1, M.SHA1, A.BLOCK), cand(2, M.SHA1, A.BLOCK, scoped=True)],
        2,
        RULE_SCOPE,
        Enforcement.BLOCK,
        "scope: device-group indicator 2 beats all-devices indicator 1",
    ),
    Row(
        "file action",
        FILE,
        [cand(1, M.SHA256, A.ALLOWED), cand(2, M.SHA256, A.BLOCK)],
        2,
        RULE_ACTION,
        Enforcement.BLOCK,
        "action: Block beats Allowed for files",
    ),
    Row(
        "file age",
        FILE,
        [cand(2, M.SHA256, A.WARN), cand(1, M.SHA256, A.WARN)],
        1,
        RULE_AGE,
        Enforcement.WARN,
        "age: older indicator 1 beats 2",
    ),
    # network
    Row(
        "network authority",
        NET,
        [cand(1, M.HOST, A.ALLOWED, group=True), cand(2, M.HOST, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
        "authority: organisation-wide indicator 2 beats group indicator 1",
    ),
    Row(
        "network specificity",
        NET,
        [cand(1, M.HOST, A.WARN), cand(2, M.URL, A.WARN, 1)],
        2,
        RULE_SPECIFICITY,
        Enforcement.WARN,
        "specificity: URL path of 1 segment beats exact host",
    ),
    Row(
        "network scope",
        NET,
        [cand(1, M.IP, A.BLOCK), cand(2, M.IP, A.BLOCK, scoped=True)],
        2,
        RULE_SCOPE,
        Enforcement.BLOCK,
        "scope: device-group indicator 2 beats all-devices indicator 1",
    ),
    Row(
        "network action",
        NET,
        [cand(1, M.HOST, A.BLOCK), cand(2, M.HOST, A.ALLOWED)],
        2,
        RULE_ACTION,
        Enforcement.ALLOW,
        "action: Allowed beats Block for network entities",
    ),
    Row(
        "network age",
        NET,
        [cand(2, M.CIDR, A.BLOCK, 24), cand(1, M.CIDR, A.BLOCK, 24)],
        1,
        RULE_AGE,
        Enforcement.BLOCK,
        "age: older indicator 1 beats 2",
    ),
]

# Each row: the winner wins on the first rule named and loses on the second.
RULE_PAIRS = [
    Row(
        "file authority over specificity",
        FILE,
        [cand(1, M.SHA256, A.BLOCK, group=True), cand(2, M.MD5, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
    ),
    Row(
        "file authority over scope",
        FILE,
        [cand(1, M.SHA256, A.BLOCK, group=True, scoped=True), cand(2, M.SHA256, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
    ),
    Row(
        "file authority over action",
        FILE,
        [cand(1, M.SHA256, A.BLOCK_AND_REMEDIATE, group=True), cand(2, M.SHA256, A.ALLOWED)],
        2,
        RULE_AUTHORITY,
        Enforcement.ALLOW,
    ),
    Row(
        "file specificity over scope",
        FILE,
        [cand(1, M.SHA1, A.BLOCK, scoped=True), cand(2, M.SHA256, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
    ),
    Row(
        "file specificity over action",
        FILE,
        [cand(1, M.MD5, A.BLOCK), cand(2, M.SHA256, A.ALLOWED)],
        2,
        RULE_SPECIFICITY,
        Enforcement.ALLOW,
    ),
    Row(
        "file scope over action",
        FILE,
        [cand(1, M.SHA256, A.BLOCK), cand(2, M.SHA256, A.ALLOWED, scoped=True)],
        2,
        RULE_SCOPE,
        Enforcement.ALLOW,
    ),
    Row(
        "network authority over specificity",
        NET,
        [cand(1, M.URL, A.BLOCK, 3, group=True), cand(2, M.PARENT_DOMAIN, A.BLOCK, 2)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
    ),
    Row(
        "network authority over scope",
        NET,
        [cand(1, M.HOST, A.WARN, group=True, scoped=True), cand(2, M.HOST, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
    ),
    Row(
        "network authority over action",
        NET,
        [cand(1, M.HOST, A.ALLOWED, group=True), cand(2, M.HOST, A.BLOCK)],
        2,
        RULE_AUTHORITY,
        Enforcement.BLOCK,
    ),
    Row(
        "network specificity over scope",
        NET,
        [cand(1, M.CIDR, A.BLOCK, 24, scoped=True), cand(2, M.IP, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
    ),
    Row(
        "network specificity over action",
        NET,
        [cand(1, M.PARENT_DOMAIN, A.ALLOWED, 2), cand(2, M.HOST, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
    ),
    Row(
        "network scope over action",
        NET,
        [cand(1, M.URL, A.ALLOWED, 2), cand(2, M.URL, A.BLOCK, 2, scoped=True)],
        2,
        RULE_SCOPE,
        Enforcement.BLOCK,
    ),
]

NAMED = [
    Row(
        "certificate Block over hash Allow",
        FILE,
        [cand(1, M.SHA256, A.ALLOWED, scoped=True), cand(2, M.CERTIFICATE, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: certificate Block beats hash Allow",
    ),
    Row(
        "certificate BlockAndRemediate over hash Allow",
        FILE,
        [cand(1, M.MD5, A.ALLOWED), cand(2, M.CERTIFICATE, A.BLOCK_AND_REMEDIATE)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK_AND_REMEDIATE,
        "specificity: certificate Block beats hash Allow",
    ),
    Row(
        "organisation hash Allow over group certificate Block",
        FILE,
        [cand(1, M.CERTIFICATE, A.BLOCK, group=True), cand(2, M.SHA256, A.ALLOWED)],
        2,
        RULE_AUTHORITY,
        Enforcement.ALLOW,
    ),
    Row(
        # SPEC is silent; the order must be total, so a blocking certificate outranks every hash.
        "certificate Block over hash BlockAndRemediate",
        FILE,
        [cand(1, M.SHA256, A.BLOCK_AND_REMEDIATE), cand(2, M.CERTIFICATE, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: certificate Block beats SHA-256",
    ),
    Row(
        "any hash over a certificate Allow",
        FILE,
        [cand(1, M.CERTIFICATE, A.ALLOWED, scoped=True), cand(2, M.MD5, A.ALLOWED)],
        2,
        RULE_SPECIFICITY,
        Enforcement.ALLOW,
        "specificity: MD5 beats certificate",
    ),
    Row(
        "hash Block over certificate Allow",
        FILE,
        [cand(1, M.CERTIFICATE, A.ALLOWED), cand(2, M.SHA1, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
    ),
    Row(
        "SHA-1 over MD5",
        FILE,
        [cand(1, M.MD5, A.ALLOWED), cand(2, M.SHA1, A.ALLOWED)],
        2,
        RULE_SPECIFICITY,
        Enforcement.ALLOW,
        "specificity: SHA-1 beats MD5",
    ),
    Row(
        "longest URL path",
        NET,
        [cand(1, M.URL, A.ALLOWED, 1), cand(2, M.URL, A.BLOCK, 3)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: URL path of 3 segments beats URL path of 1 segment",
    ),
    Row(
        "deepest domain",
        NET,
        [cand(1, M.PARENT_DOMAIN, A.ALLOWED, 2), cand(2, M.PARENT_DOMAIN, A.WARN, 3)],
        2,
        RULE_SPECIFICITY,
        Enforcement.WARN,
        "specificity: parent domain of 3 labels beats parent domain of 2 labels",
    ),
    Row(
        "exact host over parent domain",
        NET,
        [cand(1, M.PARENT_DOMAIN, A.ALLOWED, 3), cand(2, M.HOST, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: exact host beats parent domain of 3 labels",
    ),
    Row(
        "exact IP over CIDR",
        NET,
        [cand(1, M.CIDR, A.ALLOWED, 31), cand(2, M.IP, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: exact IP beats CIDR /31",
    ),
    Row(
        "longer CIDR prefix over shorter",
        NET,
        [cand(1, M.CIDR, A.ALLOWED, 16), cand(2, M.CIDR, A.BLOCK, 24)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: CIDR /24 beats CIDR /16",
    ),
    Row(
        "name over address",
        NET,
        [cand(1, M.IP, A.ALLOWED), cand(2, M.PARENT_DOMAIN, A.BLOCK, 2)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
        "specificity: parent domain of 2 labels beats exact IP",
    ),
    Row(
        "network Warn over Block",
        NET,
        [cand(1, M.HOST, A.BLOCK), cand(2, M.HOST, A.WARN)],
        2,
        RULE_ACTION,
        Enforcement.WARN,
        "action: Warn beats Block for network entities",
    ),
    Row(
        "file BlockAndRemediate over Block",
        FILE,
        [cand(1, M.SHA256, A.BLOCK), cand(2, M.SHA256, A.BLOCK_AND_REMEDIATE)],
        2,
        RULE_ACTION,
        Enforcement.BLOCK_AND_REMEDIATE,
        "action: BlockAndRemediate beats Block for files",
    ),
    Row(
        "file Warn over Allowed",
        FILE,
        [cand(1, M.MD5, A.ALLOWED), cand(2, M.MD5, A.WARN)],
        2,
        RULE_ACTION,
        Enforcement.WARN,
        "action: Warn beats Allowed for files",
    ),
    Row(
        "certificate Block over certificate Allowed",
        FILE,
        [cand(1, M.CERTIFICATE, A.ALLOWED), cand(2, M.CERTIFICATE, A.BLOCK)],
        2,
        RULE_SPECIFICITY,
        Enforcement.BLOCK,
    ),
    Row(
        "BlockAndRemediate counts as Block on the network",
        NET,
        [cand(2, M.HOST, A.BLOCK_AND_REMEDIATE), cand(1, M.HOST, A.BLOCK)],
        1,
        RULE_AGE,
        Enforcement.BLOCK,
    ),
]


def run(row: Row, candidates: list[Candidate] | None = None) -> Decision:
    return decide(
        row.candidates if candidates is None else candidates,
        device_group=DEVICE_GROUP,
        entity=row.entity,
        file=row.file,
    )


@pytest.mark.parametrize("row", SINGLE_RULES + RULE_PAIRS + NAMED, ids=lambda row: row.name)
def test_table(row: Row) -> None:
    for candidates in (row.candidates, row.candidates[::-1]):
        decision = run(row, candidates)
        assert decision.winner is not None
        assert decision.winner.indicator.id == row.winner
        assert decision.rule == row.rule
        assert decision.enforcement is row.enforcement
        assert len(decision.losers) == len(row.candidates) - 1
        assert all(reason.startswith(row.rule + ": ") for _, reason in decision.losers)
        if row.reason:
            assert decision.losers[0][1] == row.reason


def test_every_rule_and_pair_is_covered_for_both_entities() -> None:
    rules = [RULE_AUTHORITY, RULE_SPECIFICITY, RULE_SCOPE, RULE_ACTION]
    for entity in (FILE, NET):
        singles = {row.rule for row in SINGLE_RULES if row.entity is entity}
        assert singles == {*rules, RULE_AGE}
        pairs = {row.name.split(" ", 1)[1] for row in RULE_PAIRS if row.entity is entity}
        assert pairs == {
            f"{first} over {second}" for i, first in enumerate(rules) for second in rules[i + 1 :]
        }


def test_hash_strength_chain() -> None:
    decision = decide(
        [cand(1, M.MD5, A.BLOCK), cand(2, M.SHA1, A.BLOCK), cand(3, M.SHA256, A.BLOCK)],
        device_group=DEVICE_GROUP,
        entity=FILE,
    )
    assert decision.winner is not None and decision.winner.indicator.id == 3
    assert [(c.indicator.id, reason) for c, reason in decision.losers] == [
        (2, "specificity: SHA-256 beats SHA-1"),
        (1, "specificity: SHA-256 beats MD5"),
    ]


def test_network_kinds_chain() -> None:
    chain = [
        cand(1, M.CIDR, A.ALLOWED, 24),
        cand(2, M.IP, A.ALLOWED),
        cand(3, M.PARENT_DOMAIN, A.ALLOWED, 2),
        cand(4, M.HOST, A.ALLOWED),
        cand(5, M.URL, A.BLOCK, 0),
    ]
    decision = decide(chain, device_group=DEVICE_GROUP, entity=NET)
    assert decision.winner is not None and decision.winner.indicator.id == 5
    assert decision.enforcement is Enforcement.BLOCK
    assert [c.indicator.id for c, _ in decision.losers] == [4, 3, 2, 1]


@pytest.mark.parametrize(
    ("entity", "order"),
    [
        (NET, [A.ALLOWED, A.WARN, A.BLOCK]),
        (FILE, [A.BLOCK_AND_REMEDIATE, A.BLOCK, A.WARN, A.ALLOWED]),
    ],
)
def test_action_order(entity: EntityKind, order: list[Action]) -> None:
    match = M.HOST if entity is NET else M.SHA256
    candidates = [cand(i, match, action) for i, action in enumerate(reversed(order), start=1)]
    decision = decide(candidates, device_group=DEVICE_GROUP, entity=entity)
    assert decision.winner is not None
    assert [decision.winner.indicator.action] + [
        c.indicator.action for c, _ in decision.losers
    ] == order
    assert decision.rule == RULE_ACTION


@pytest.mark.parametrize(
    ("action", "enforcement"),
    [
        (A.ALLOWED, Enforcement.ALLOW),
        (A.WARN, Enforcement.WARN),
        (A.BLOCK, Enforcement.BLOCK),
        (A.BLOCK_AND_REMEDIATE, Enforcement.BLOCK_AND_REMEDIATE),
    ],
)
def test_only_candidate_enforces_its_action(action: Action, enforcement: Enforcement) -> None:
    only = cand(7, M.SHA256, action)
    decision = decide([only], device_group=DEVICE_GROUP, entity=FILE)
    assert decision == Decision(
        enforcement,
        action is not A.ALLOWED,
        only,
        RULE_ONLY,
        alerts=() if action is A.ALLOWED else (only,),
    )


# --- trusted, validly signed files --------------------------------------------------------


@pytest.mark.parametrize("action", [A.BLOCK, A.BLOCK_AND_REMEDIATE])
@pytest.mark.parametrize("match", [M.SHA256, M.SHA1, M.MD5])
def test_trusted_signed_file_is_alerted_not_blocked_by_hash(
    match: MatchKind, action: Action
) -> None:
    block = cand(12, match, action, alert=False)
    decision = decide([block], device_group=DEVICE_GROUP, entity=FILE, file=TRUSTED)
    assert decision.enforcement is Enforcement.NONE
    assert decision.alert
    assert decision.winner == block
    assert decision.alerts == (block,)
    assert len(decision.notes) == 1
    note = decision.notes[0]
    assert "trusted publisher" in note
    assert "indicator 12" in note
    assert "without the guardrail override" in note


def test_trusted_signed_file_is_blocked_by_overridden_hash() -> None:
    block = cand(12, M.SHA256, A.BLOCK, overridden=True)
    decision = decide([block], device_group=DEVICE_GROUP, entity=FILE, file=TRUSTED)
    assert decision.enforcement is Enforcement.BLOCK
    assert decision.notes == ()


def test_trusted_signed_file_is_blocked_by_certificate() -> None:
    decision = decide(
        [cand(3, M.CERTIFICATE, A.BLOCK), cand(4, M.SHA256, A.BLOCK)],
        device_group=DEVICE_GROUP,
        entity=FILE,
        file=TRUSTED,
    )
    assert decision.enforcement is Enforcement.BLOCK
    assert decision.winner is not None and decision.winner.match is M.CERTIFICATE
    assert decision.notes == ()


@pytest.mark.parametrize(
    "file",
    [
        None,
        FileContext(),
        FileContext(signature_valid=True, signer_trusted=False),
        FileContext(signature_valid=False, signer_trusted=True),
    ],
)
def test_untrusted_or_unknown_file_is_blocked_by_hash(file: FileContext | None) -> None:
    decision = decide([cand(1, M.MD5, A.BLOCK)], device_group=DEVICE_GROUP, entity=FILE, file=file)
    assert decision.enforcement is Enforcement.BLOCK


@pytest.mark.parametrize("action", [A.WARN, A.ALLOWED])
def test_trusted_signed_file_other_hash_actions_unchanged(action: Action) -> None:
    decision = decide(
        [cand(1, M.SHA256, action)], device_group=DEVICE_GROUP, entity=FILE, file=TRUSTED
    )
    assert decision.enforcement is Enforcement({A.WARN: "warn", A.ALLOWED: "allow"}[action])
    assert decision.notes == ()


# --- Audit, alerts, scope --------------------------------------------------------------------


def test_audit_only_alerts_and_never_enforces() -> None:
    audit = cand(5, M.HOST, A.AUDIT, alert=False)
    decision = decide([audit], device_group=DEVICE_GROUP, entity=NET)
    assert decision == Decision(Enforcement.NONE, True, None, RULE_AUDIT_ONLY, alerts=(audit,))


def test_audit_alongside_a_winner_adds_an_alert_and_is_not_a_loser() -> None:
    audit, block = cand(9, M.SHA1, A.AUDIT), cand(3, M.SHA256, A.BLOCK)
    decision = decide([audit, block], device_group=DEVICE_GROUP, entity=FILE)
    assert decision.enforcement is Enforcement.BLOCK
    assert decision.winner == block
    assert decision.rule == RULE_ONLY
    assert decision.losers == ()
    assert decision.alerts == (block, audit)


def test_allowed_never_alerts_but_audit_still_does() -> None:
    allowed, audit = cand(1, M.URL, A.ALLOWED, 2, alert=True), cand(2, M.HOST, A.AUDIT)
    assert decide([allowed], device_group=DEVICE_GROUP, entity=NET).alert is False
    decision = decide([audit, allowed], device_group=DEVICE_GROUP, entity=NET)
    assert decision.enforcement is Enforcement.ALLOW
    assert decision.alerts == (audit,)


def test_winner_without_generate_alert_does_not_alert() -> None:
    decision = decide([cand(1, M.IP, A.BLOCK, alert=False)], device_group=DEVICE_GROUP, entity=NET)
    assert decision.enforcement is Enforcement.BLOCK
    assert decision.alert is False
    assert decision.alerts == ()


def test_several_audits_alert_in_id_order() -> None:
    audits = [cand(8, M.SHA1, A.AUDIT), cand(4, M.MD5, A.AUDIT), cand(6, M.SHA256, A.AUDIT)]
    decision = decide(audits, device_group=DEVICE_GROUP, entity=FILE)
    assert ids(decision.alerts) == [4, 6, 8]


def test_no_candidates_is_no_match() -> None:
    assert decide([], device_group=DEVICE_GROUP, entity=FILE) is NO_MATCH


def test_candidates_scoped_to_other_groups_are_ignored() -> None:
    elsewhere = frozenset({"Laptops"})
    others = [
        cand(1, M.SHA256, A.BLOCK, groups=elsewhere),
        cand(2, M.SHA256, A.AUDIT, groups=elsewhere),
    ]
    assert decide(others, device_group=DEVICE_GROUP, entity=FILE) is NO_MATCH
    mine = cand(3, M.MD5, A.ALLOWED, groups=frozenset({"Laptops", DEVICE_GROUP}))
    decision = decide([*others, mine], device_group=DEVICE_GROUP, entity=FILE)
    assert decision.winner == mine
    assert decision.rule == RULE_ONLY
    assert decision.losers == ()
    assert decision.alerts == ()


# --- properties ----------------------------------------------------------------------------

GROUP_SETS = [frozenset(), frozenset({DEVICE_GROUP}), frozenset({"Laptops"})]


@st.composite
def candidate_lists(draw: st.DrawFn) -> list[Candidate]:
    count = draw(st.integers(min_value=0, max_value=6))
    numbers = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count, unique=True))
    return [
        cand(
            number,
            draw(st.sampled_from(list(MatchKind))),
            draw(st.sampled_from(list(Action))),
            draw(st.integers(0, 32)),
            groups=draw(st.sampled_from(GROUP_SETS)),
            group=draw(st.booleans()),
            overridden=draw(st.booleans()),
            alert=draw(st.booleans()),
        )
        for number in numbers
    ]


files = st.none() | st.builds(FileContext, st.booleans(), st.booleans())


@given(candidate_lists(), st.sampled_from(list(EntityKind)), files, st.randoms())
def test_order_does_not_matter(
    candidates: list[Candidate], entity: EntityKind, file: FileContext | None, rng: random.Random
) -> None:
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    first = decide(candidates, device_group=DEVICE_GROUP, entity=entity, file=file)
    again = decide(shuffled, device_group=DEVICE_GROUP, entity=entity, file=file)
    assert first == again


@given(candidate_lists(), st.sampled_from(list(EntityKind)), files)
def test_winner_is_an_applicable_non_audit_candidate(
    candidates: list[Candidate], entity: EntityKind, file: FileContext | None
) -> None:
    decision = decide(candidates, device_group=DEVICE_GROUP, entity=entity, file=file)
    contest = [
        c
        for c in candidates
        if c.indicator.applies_to(DEVICE_GROUP) and c.indicator.action is not A.AUDIT
    ]
    audits = [
        c
        for c in candidates
        if c.indicator.applies_to(DEVICE_GROUP) and c.indicator.action is A.AUDIT
    ]
    if not contest:
        assert decision.winner is None
        assert decision.enforcement is Enforcement.NONE
    else:
        assert decision.winner in contest
        assert sorted(ids((decision.winner, *(c for c, _ in decision.losers)))) == sorted(
            ids(tuple(contest))
        )
    assert set(ids(decision.alerts)) >= set(ids(tuple(audits)))
    assert all(c.indicator.action is not A.ALLOWED for c in decision.alerts)
    assert decision.alert == bool(decision.alerts)
