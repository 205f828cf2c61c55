"""The snapshot diff alone: only new lines are decoded, identities that stay are not withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from iocd.domain.feeds import Feed, FeedKind, FeedOptions, make_defaults
from iocd.feeds.lines import list_values, value_decoder
from iocd.feeds.snapshot import ItemWriter, SnapshotPull, Workspace

NOW = datetime(2030, 1, 1, tzinfo=UTC)
FEED = Feed(
    1,
    "t",
    FeedKind.LIST,
    "/x",
    FeedOptions(),
    make_defaults("Audit", None, None, []),
    None,
    300,
    True,
    NOW,
    "root",
)


def _pull(workspace: Workspace, lines: list[str], token: str | None, cap: int | None = None):  # type: ignore[no-untyped-def]
    directory = workspace.new_pull()
    writer = ItemWriter(directory, cap)
    for line in lines:
        writer.add(line)
    decoded: list[str] = []
    decode = value_decoder(FEED, NOW)

    def counting(line: str):  # type: ignore[no-untyped-def]
        decoded.append(line)
        return decode(line)

    pull = SnapshotPull(
        workspace,
        directory,
        writer.finish(),
        workspace.base(token),
        counting,
        FEED.state,
        len(lines),
        writer.over_cap,
    )
    return pull, decoded


def test_diff_decodes_only_changed_lines(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    first, decoded = _pull(workspace, ["1.2.3.4", "example.com", "bad value"], None)
    assert first.full and [label for label, _ in first.added()] == [
        "1.2.3.4",
        "example.com",
        "bad value",
    ]
    assert first.usable() == 2
    token = first.commit()

    # a reformatted value that gives the same identity is not withdrawn
    second, decoded = _pull(workspace, ["example.com", "1.2.3.4/32", "evil.example"], token)
    assert not second.full and second.unchanged == 1
    assert [label for label, _ in second.added()] == ["1.2.3.4/32", "evil.example"]
    assert list(second.removed()) == []
    assert "example.com" not in decoded and "bad value" in decoded  # decoded for removal only
    token = second.commit()

    third, _ = _pull(workspace, ["example.com"], token)
    list(third.added())
    assert {key[1] for key in third.removed()} == {"1.2.3.4", "evil.example"}
    assert third.holds([next(iter(third.removed()))]) == [False]


def test_cap_and_comments(tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_text("# head\n1.2.3.4 # trailing\n\n; not a comment here\n5.6.7.8\n9.9.9.10\n")
    assert list(list_values(body, "#")) == [
        "1.2.3.4",
        "; not a comment here",
        "5.6.7.8",
        "9.9.9.10",
    ]
    semi = tmp_path / "drop"
    semi.write_text("; Spamhaus DROP\n1.10.16.0/20 ; SBL256894\n")
    assert list(list_values(semi, ";")) == ["1.10.16.0/20"]
    pull, _ = _pull(
        Workspace(tmp_path / "ws"), ["a.example", "b.example", "c.example"], None, cap=2
    )
    assert pull.over_cap == 1 and len(list(pull.added())) == 2
