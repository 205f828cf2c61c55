"""The three doors of an import (`iocd indicators import`, `POST /api/indicators/import/file`
and the portal's import page) give the same result for every item of the same files.

Each door imports the same files, in the same order, into a store of its own; the results are
compared item by item (number, outcome, type, value, reason), ids aside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.domain.principal import Role
from tests.api.api_support import ADMIN
from tests.web.indicator_support import signed_in_admin
from tests.web.portal_support import LivePortal, csrf_of, start_portal

GOLDEN = Path(__file__).resolve().parents[1] / "codecs" / "golden"
FILES = [
    *sorted((GOLDEN / "stix").glob("*.json")),
    *sorted((GOLDEN / "misp").glob("*.json")),
    GOLDEN / "mixed.csv",
    GOLDEN / "list.txt",
]
OPTIONS = {"action": "Block", "severity": "High"}
"""For the lists, STIX and MISP files: Block brings guardrail refusals into the results."""

Items = list[tuple[Any, ...]]


def comparable(result: dict[str, Any]) -> tuple[tuple[int, ...], Items]:
    counts = tuple(result[k] for k in ("created", "updated", "unchanged", "failed", "skipped"))
    items = sorted(
        (i["item"], i["outcome"], i["indicatorType"], i["indicatorValue"], i["reason"])
        for i in result["items"]
    )
    return counts, items


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[LivePortal, LivePortal]]:
    """One server for the API door, one for the portal door: each a store of its own."""
    api = start_portal(tmp_path / "api")
    portal = start_portal(tmp_path / "portal")
    yield api, portal
    api.stop()
    portal.stop()


def through_cli(data_dir: Path, file: Path) -> dict[str, Any]:
    args = ["--data-dir", str(data_dir), "indicators", "import", str(file), "--json"]
    args += [f"--{k}={v}" for k, v in OPTIONS.items()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def through_api(client: httpx.Client, headers: dict[str, str], file: Path) -> dict[str, Any]:
    response = client.post(
        "/api/indicators/import/file",
        content=file.read_bytes(),
        params=OPTIONS,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def through_portal(client: httpx.Client, file: Path) -> dict[str, Any]:
    token = csrf_of(client.get("/indicators/import"))
    started = client.post(
        "/indicators/import",
        data={"csrf_token": token, **OPTIONS},
        files={"file": (file.name, file.read_bytes(), "application/octet-stream")},
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"] + ".json"
    for _ in range(200):
        status = client.get(url).json()
        if status["done"]:
            assert status["error"] is None, status["error"]
            return status  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the portal import did not finish")


def test_the_three_doors_give_the_same_item_results(
    servers: tuple[LivePortal, LivePortal], tmp_path: Path
) -> None:
    api, portal = servers
    name, _ = api.user(Role.GLOBAL_ADMINISTRATOR)
    _, token = api.instance.accounts.create_personal_token(name, "doors", ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    api_client = api.client()
    portal_client, _ = signed_in_admin(portal)
    for file in FILES:
        cli = comparable(through_cli(tmp_path / "cli", file))
        assert cli[1], f"{file.name}: no items"
        assert comparable(through_api(api_client, headers, file)) == cli, file.name
        assert comparable(through_portal(portal_client, file)) == cli, file.name
