"""Properties: the batch and single matchers agree, and folding changes equals rebuilding."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import ALLOWED_ACTIONS, IndicatorType
from iocd.matching.index import Removal, build
from tests.matching.helpers import both, event

LABELS = ("a", "b", "evil", "cdn")
TLDS = ("com", "net")
GROUPS = ("G1", "G2", "Ungrouped devices")

domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=3),
    st.sampled_from(TLDS),
)
paths = st.builds(
    lambda segments, slash, query: (
        "/" + "/".join(segments) + ("/" if slash and segments else "") + ("?k=1" if query else "")
    ),
    st.lists(st.sampled_from(("p", "q")), max_size=3),
    st.booleans(),
    st.booleans(),
)
urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(("http", "https")),
    domains,
    st.sampled_from(("", ":8080")),
    paths,
)
addresses = st.one_of(
    st.builds(lambda b, c, d: f"10.{b}.{c}.{d}", *(st.integers(0, 2),) * 3),
    st.builds(lambda d: f"2001:db8::{d}", st.integers(0, 3)),
)
blocks = st.sampled_from(
    (
        "10.0.0.0/8",
        "10.0.0.0/16",
        "10.1.0.0/16",
        "10.0.1.0/24",
        "10.0.1.0/30",
        "10.2.2.2/31",
        "2001:db8::/32",
        "2001:db8::/64",
        "2001:db8::/126",
        "::ffff:10.0.0.0/104",
    )
)
digests = st.sampled_from(tuple(f"{n:064x}" for n in range(1, 5)))

VALUES = {
    IndicatorType.FILE_SHA256: digests,
    IndicatorType.FILE_SHA1: digests.map(lambda d: d[:40]),
    IndicatorType.FILE_MD5: digests.map(lambda d: d[:32]),
    IndicatorType.CERTIFICATE_THUMBPRINT: digests.map(lambda d: d[-40:]),
    IndicatorType.IP_ADDRESS: st.one_of(addresses, blocks),
    IndicatorType.DOMAIN_NAME: domains,
    IndicatorType.URL: urls,
}


@st.composite
def indicators(draw: st.DrawFn, ident: int) -> ListedIndicator:
    kind = draw(st.sampled_from(tuple(VALUES)))
    return ListedIndicator(
        id=ident,
        indicator_type=kind,
        value=draw(VALUES[kind]),
        action=draw(st.sampled_from(sorted(ALLOWED_ACTIONS[kind]))),
        groups=frozenset(draw(st.lists(st.sampled_from(GROUPS), max_size=2))),
        authority=draw(st.sampled_from(tuple(Authority))),
        overridden=draw(st.booleans()),
        generate_alert=draw(st.booleans()),
        sequence=ident,
    )


@st.composite
def index_sets(draw: st.DrawFn, most: int = 25) -> list[ListedIndicator]:
    count = draw(st.integers(0, most))
    return [draw(indicators(n)) for n in range(1, count + 1)]


def _maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


events = st.builds(
    lambda **fields: event(**fields),
    sha256=_maybe(digests),
    sha1=_maybe(digests.map(lambda d: d[:40])),
    md5=_maybe(digests.map(lambda d: d[:32])),
    signer_thumbprint=_maybe(digests.map(lambda d: d[-40:])),
    signature_valid=st.one_of(st.none(), st.booleans()),
    signer_trusted=st.one_of(st.none(), st.booleans()),
    remote_ip=_maybe(addresses),
    domain=_maybe(domains),
    sni=_maybe(domains),
    url=_maybe(urls),
    device_group=st.one_of(st.none(), st.sampled_from(GROUPS)),
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(index_sets(), st.lists(events, max_size=30))
def test_batch_and_single_matchers_agree(
    listed: list[ListedIndicator], batch: list[TelemetryEvent]
) -> None:
    both(build(listed, 1), batch)


@st.composite
def change_lists(draw: st.DrawFn) -> list[ListedIndicator | Removal]:
    changes: list[ListedIndicator | Removal] = []
    for _ in range(draw(st.integers(0, 15))):
        ident = draw(st.integers(1, 35))
        if draw(st.booleans()):
            changes.append(Removal(ident))
        else:
            changes.append(draw(indicators(ident)))
    return changes


@SETTINGS
@given(
    index_sets(),
    st.lists(change_lists(), max_size=3),
    st.lists(events, max_size=25),
    st.sampled_from((4, 1000)),
)
def test_folding_changes_equals_a_full_rebuild(
    listed: list[ListedIndicator],
    rounds: list[list[ListedIndicator | Removal]],
    batch: list[TelemetryEvent],
    compact_past: int,
) -> None:
    index = build(listed, 1, compact_past=compact_past)
    expected = {i.id: i for i in listed}
    for changes in rounds:
        index = index.apply(changes)
        for change in changes:
            if isinstance(change, Removal):
                expected.pop(change.id, None)
            else:
                expected[change.id] = change
    assert sorted(index.indicators(), key=lambda i: i.id) == sorted(
        expected.values(), key=lambda i: i.id
    )
    assert len(index) == len(expected)
    assert both(index, batch) == both(build(expected.values(), 1), batch)
