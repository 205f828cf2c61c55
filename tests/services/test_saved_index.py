"""A compiled index saved in the data directory: a later process starts from it, folds the
changes made since, and ignores a file that is not of its store or cannot be read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build, open_saved_index
from iocd.config import Settings
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.services.index_keeper import IndexKeeper
from iocd.store.index_files import IndexFiles
from iocd.store.migrate import upgrade
from tests.factories import T0

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")


def _instance(data_dir: Path) -> Instance:
    instance = build(Settings(data_dir=data_dir), clock=FixedClock(T0))
    upgrade(instance.store.engine)  # type: ignore[attr-defined]
    return instance


def _add(instance: Instance, value: str, action: str = "Block") -> int:
    fields = build_fields(
        indicator_type="DomainName", value=value, action=action, title=value, description="t"
    )
    found = instance.indicators.submit(IndicatorDraft(fields), ADMIN).indicator
    assert found is not None
    return found.id


def _keeper(instance: Instance, data_dir: Path) -> IndexKeeper:
    return IndexKeeper(instance.store, FixedClock(T0), open_saved_index(instance.settings), 0)


def _values(keeper: IndexKeeper) -> set[str]:
    return {i.value for i in keeper.current.indicators()}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_later_keeper_starts_from_the_saved_base_and_folds_later_changes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _instance(data_dir)
    first = _add(instance, "one.example")
    _add(instance, "two.example")
    assert _values(_keeper(instance, data_dir)) == {"one.example", "two.example"}
    assert (data_dir / "index" / "compiled.npz").is_file()
    instance.indicators.delete(first, ADMIN)
    _add(instance, "three.example")

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("compiled from the store although a saved base exists")

    monkeypatch.setattr(type(instance.store), "policy_rows", refuse)
    later = _keeper(instance, data_dir)
    assert _values(later) == {"two.example", "three.example"}
    assert later.current.sequence == later.refresh().sequence


def test_a_saved_base_of_another_store_or_a_broken_file_is_ignored(
    data_dir: Path, tmp_path: Path
) -> None:
    other_dir = tmp_path / "other"
    other = _instance(other_dir)
    _add(other, "elsewhere.example")
    _keeper(other, other_dir).refresh()
    instance = _instance(data_dir)
    _add(instance, "here.example")
    (data_dir / "index").mkdir(parents=True)
    saved = data_dir / "index" / "compiled.npz"
    saved.write_bytes((other_dir / "index" / "compiled.npz").read_bytes())
    assert _values(_keeper(instance, data_dir)) == {"here.example"}  # and saved again, its own
    assert IndexFiles(data_dir / "index").load() is not None
    saved.write_bytes(b"not an archive")
    assert IndexFiles(data_dir / "index").load() is None
    assert _values(_keeper(instance, data_dir)) == {"here.example"}


def test_small_lists_are_not_saved(data_dir: Path) -> None:
    instance = _instance(data_dir)
    _add(instance, "one.example")
    IndexKeeper(instance.store, FixedClock(T0), open_saved_index(instance.settings)).refresh()
    assert not (data_dir / "index").exists()


def test_too_many_changes_since_the_saved_base_compile_from_the_store_and_save_again(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _instance(data_dir)
    _add(instance, "one.example")
    _keeper(instance, data_dir).refresh()
    saved = IndexFiles(data_dir / "index").load()
    assert saved is not None and saved[1]["sequence"] == 1
    for n in range(3):
        _add(instance, f"more-{n}.example")
    monkeypatch.setattr("iocd.services.index_keeper.REBUILD_PAST", 2)
    assert len(_values(_keeper(instance, data_dir))) == 4
    again = IndexFiles(data_dir / "index").load()
    assert again is not None and again[1]["sequence"] == 4
