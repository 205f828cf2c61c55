"""The human trace and the stored JSON of a decision (`iocd.policy.explain`)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import (
    NO_MATCH,
    Authority,
    Candidate,
    Decision,
    EntityKind,
    FileContext,
    ListedIndicator,
    MatchKind,
)
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from iocd.policy.explain import decision_from_wire, decision_to_wire, explain_lines
from iocd.policy.precedence import decide

M, A = MatchKind, Action
TRUSTED = FileContext(signature_valid=True, signer_trusted=True)


def cand(
    id: int,
    indicator_type: IndicatorType,
    match: MatchKind,
    action: Action,
    specificity: int = 0,
    *,
    groups: frozenset[str] = frozenset(),
    authority: Authority = Authority.ORGANISATION,
) -> Candidate:
    indicator = ListedIndicator(
        id, indicator_type, f"value-{id}", action, groups, authority, sequence=100 + id
    )
    return Candidate(indicator, match, specificity)


SHA256_BLOCK = cand(12, IndicatorType.FILE_SHA256, M.SHA256, A.BLOCK)
MD5_ALLOW = cand(7, IndicatorType.FILE_MD5, M.MD5, A.ALLOWED, groups=frozenset({"Servers"}))
SHA1_AUDIT = cand(30, IndicatorType.FILE_SHA1, M.SHA1, A.AUDIT)


def file_decision(*candidates: Candidate, file: FileContext | None = None) -> Decision:
    return decide(candidates, device_group="Servers", entity=EntityKind.FILE, file=file)


def test_lines_name_enforcement_winner_rule_losers_alerts() -> None:
    lines = explain_lines(file_decision(MD5_ALLOW, SHA256_BLOCK, SHA1_AUDIT))
    assert lines[0] == "enforcement: block (alert)"
    assert lines[1] == (
        "winner: indicator 12 FileSha256 value-12 Block, all devices, organisation-wide, "
        "matched as SHA-256"
    )
    assert lines[2] == "rule: specificity"
    assert lines[3] == (
        "lost: indicator 7 FileMd5 value-7 Allowed, device groups Servers, organisation-wide, "
        "matched as MD5: specificity: SHA-256 beats MD5"
    )
    assert [line.split(" ", 3)[:3] for line in lines[4:]] == [
        ["alert:", "indicator", "12"],
        ["alert:", "indicator", "30"],
    ]


def test_lines_for_no_match() -> None:
    assert explain_lines(NO_MATCH) == [
        "enforcement: none",
        "winner: none",
        "rule: no matching indicator",
    ]


def test_lines_carry_the_trusted_file_note() -> None:
    lines = explain_lines(file_decision(SHA256_BLOCK, file=TRUSTED))
    assert lines[0] == "enforcement: none (alert)"
    assert lines[-1].startswith("note: file is validly signed by a trusted publisher")


def test_wire_shape() -> None:
    wire = decision_to_wire(file_decision(MD5_ALLOW, SHA256_BLOCK, SHA1_AUDIT))
    assert wire["enforcement"] == "block"
    assert wire["alert"] is True
    assert wire["rule"] == "specificity"
    assert wire["winner"]["indicator"]["id"] == "12"
    assert wire["winner"]["match"] == "sha256"
    assert wire["losers"][0]["indicator"]["rbacGroupNames"] == ["Servers"]
    assert wire["losers"][0]["reason"] == "specificity: SHA-256 beats MD5"
    assert wire["alerts"] == ["12", "30"]
    assert [item["indicator"]["id"] for item in wire["audit"]] == ["30"]
    assert wire["notes"] == []


@pytest.mark.parametrize(
    "decision",
    [
        NO_MATCH,
        file_decision(SHA1_AUDIT),
        file_decision(MD5_ALLOW, SHA256_BLOCK, SHA1_AUDIT),
        file_decision(SHA256_BLOCK, file=TRUSTED),
        decide(
            [
                cand(1, IndicatorType.URL, M.URL, A.ALLOWED, 3, authority=Authority.GROUP),
                cand(2, IndicatorType.IP_ADDRESS, M.CIDR, A.WARN, 24),
                cand(3, IndicatorType.DOMAIN_NAME, M.PARENT_DOMAIN, A.AUDIT, 2),
            ],
            device_group="Servers",
            entity=EntityKind.NETWORK,
        ),
    ],
    ids=["no match", "audit only", "file", "trusted file", "network"],
)
def test_wire_round_trip(decision: Decision) -> None:
    wire = json.loads(json.dumps(decision_to_wire(decision)))
    assert decision_from_wire(wire) == decision


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    numbers = draw(st.lists(st.integers(1, 30), max_size=5, unique=True))
    candidates = []
    for number in numbers:
        match = draw(st.sampled_from(list(MatchKind)))
        candidates.append(
            cand(
                number,
                draw(st.sampled_from(list(IndicatorType))),
                match,
                draw(st.sampled_from(list(Action))),
                draw(st.integers(0, 128)),
                groups=draw(st.sampled_from([frozenset(), frozenset({"Servers", "Lab"})])),
                authority=draw(st.sampled_from(list(Authority))),
            )
        )
    entity = draw(st.sampled_from(list(EntityKind)))
    file = draw(st.none() | st.builds(FileContext, st.booleans(), st.booleans()))
    return decide(candidates, device_group="Servers", entity=entity, file=file)


@given(decisions())
def test_wire_round_trip_property(decision: Decision) -> None:
    wire = json.loads(json.dumps(decision_to_wire(decision)))
    assert decision_from_wire(wire) == decision
    assert explain_lines(decision)[0].startswith(f"enforcement: {decision.enforcement.value}")


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {**decision_to_wire(NO_MATCH), "enforcement": "explode"},
        {**decision_to_wire(NO_MATCH), "alerts": ["99"]},
        {**decision_to_wire(file_decision(SHA1_AUDIT)), "alerts": []},
    ],
)
def test_malformed_wire_is_invalid_input(broken: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        decision_from_wire(broken)
