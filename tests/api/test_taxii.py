"""The TAXII 2.1 server at /taxii2/, driven over HTTP by the `taxii2-client` library itself (and
by plain httpx where a client library would hide what is checked: media types, error bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, Status, as_pages

from iocd.clock import FixedClock
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from iocd.services.taxii_collections import find_collection
from tests.api.api_support import START, LiveApi, StartApi, bearer

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
OPTIONS = ValidationOptions(version="2.1", strict=True)


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@pytest.fixture(scope="module")
def taxii_api(start_api: StartApi) -> LiveApi:
    """A server of its own: these tests move its clock."""
    return start_api(clock=FixedClock(START))


@pytest.fixture(scope="module")
def admin(taxii_api: LiveApi) -> tuple[str, str]:
    """(client id, secret) of a Ti.ReadWrite.All application: HTTP Basic credentials."""
    return taxii_api.register_app()


@pytest.fixture(scope="module")
def admin_headers(taxii_api: LiveApi, admin: tuple[str, str]) -> dict[str, str]:
    return bearer(taxii_api.token(*admin))


def url_of(api: LiveApi, alias: str) -> str:
    return f"{api.base_url}/taxii2/api/collections/{find_collection(alias).id}/"


@contextmanager
def collection(api: LiveApi, alias: str, credentials: tuple[str, str]) -> Iterator[Collection]:
    """A collection as taxii2-client sees it, with HTTP Basic credentials."""
    user, password = credentials
    with Collection(url_of(api, alias), user=user, password=password) as found:
        yield found


@pytest.fixture
def everything(taxii_api: LiveApi, admin: tuple[str, str]) -> Iterator[Collection]:
    with collection(taxii_api, "all", admin) as found:
        yield found


@pytest.fixture
def blocked(taxii_api: LiveApi, admin: tuple[str, str]) -> Iterator[Collection]:
    with collection(taxii_api, "block", admin) as found:
        yield found


def submit(api: LiveApi, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    return api.submit(headers, **overrides)


def stix_ids(envelope: dict[str, Any]) -> list[str]:
    return [obj["id"] for obj in envelope.get("objects", [])]


def newest(collection: Collection, **filters: Any) -> list[dict[str, Any]]:
    """Every object of the collection, paging with the client, in the order served."""
    found: list[dict[str, Any]] = []
    for page in as_pages(collection.get_objects, per_request=500, **filters):
        found += page.get("objects", [])
    return found


def indicator(value: str, **extra: Any) -> dict[str, Any]:
    """A STIX 2.1 indicator object naming one IP address."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "C2 address",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    obj.update(extra)
    return obj


# -- discovery and collections ---------------------------------------------------------------


def test_discovery_api_root_and_collections(taxii_api: LiveApi, admin: tuple[str, str]) -> None:
    user, password = admin
    with Server(f"{taxii_api.base_url}/taxii2/", user=user, password=password) as server:
        assert server.title == "iocd"
        root = server.default
        assert root is not None and root.url == f"{taxii_api.base_url}/taxii2/api/"
        assert [r.url for r in server.api_roots] == [root.url]
        assert root.versions == [TAXII] and root.max_content_length > 0
        found = {c.title: c for c in root.collections}
    assert set(found) == {
        "All indicators",
        "Allowed indicators",
        "Audit indicators",
        "Warn indicators",
        "Block indicators",
        "BlockAndRemediate indicators",
    }
    block = found["Block indicators"]
    assert block.id == find_collection("block").id
    assert block.can_read and block.can_write and block.media_types == [STIX]


def test_a_bearer_token_and_a_collection_by_alias(
    taxii_api: LiveApi, admin: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    token = taxii_api.token(*admin)
    with Collection(url_of(taxii_api, "block"), auth=BearerAuth(token)) as block:
        assert block.title == "Block indicators" and block.can_write
    by_alias = taxii_api.http.get("/taxii2/api/collections/block/", headers=admin_headers)
    assert by_alias.headers["content-type"] == TAXII
    assert by_alias.json()["id"] == find_collection("block").id


# -- reading ---------------------------------------------------------------------------------


def test_paging_with_as_pages_through_more_than_the_limit(
    taxii_api: LiveApi, admin_headers: dict[str, str], admin: tuple[str, str]
) -> None:
    taxii_api.clock.advance(timedelta(seconds=1))
    since = taxii_api.clock.now()
    taxii_api.clock.advance(timedelta(seconds=1))
    made = [submit(taxii_api, admin_headers, action="Warn") for _ in range(23)]
    with collection(taxii_api, "warn", admin) as warned:
        pages = list(as_pages(warned.get_objects, per_request=10, added_after=since))
    assert [len(p.get("objects", [])) for p in pages] == [10, 10, 3]
    assert [p["more"] for p in pages] == [True, True, False]
    assert "next" in pages[0] and "next" not in pages[-1]
    served = [obj for p in pages for obj in p["objects"]]
    assert [o["pattern"].split("'")[3] for o in served] == [m["indicatorValue"] for m in made]
    assert len({o["id"] for o in served}) == 23


def test_added_after_and_date_added_headers(
    taxii_api: LiveApi, admin_headers: dict[str, str], everything: Collection
) -> None:
    taxii_api.clock.advance(timedelta(minutes=1))
    first = submit(taxii_api, admin_headers)
    response = taxii_api.http.get(
        url_of(taxii_api, "all") + "objects/",
        params={"added_after": "2000-01-01T00:00:00Z", "limit": "1"},
        headers=admin_headers,
    )
    assert response.headers["content-type"] == TAXII
    assert (
        response.headers["X-TAXII-Date-Added-First"] == response.headers["X-TAXII-Date-Added-Last"]
    )
    last_seen = everything.get_manifest(added_after="2000-01-01T00:00:00Z")["objects"][-1]
    assert last_seen["date_added"].endswith("Z")
    taxii_api.clock.advance(timedelta(minutes=1))
    second = submit(taxii_api, admin_headers)
    since = [o["pattern"] for o in newest(everything, added_after=last_seen["date_added"])]
    assert since == [f"[file:hashes.'SHA-256' = '{second['indicatorValue']}']"]
    assert first["indicatorValue"] not in " ".join(since)
    assert newest(everything, added_after=taxii_api.clock.now() + timedelta(hours=2)) == []


def test_match_filters(
    taxii_api: LiveApi, admin_headers: dict[str, str], everything: Collection
) -> None:
    one = submit(taxii_api, admin_headers)
    two = submit(taxii_api, admin_headers)
    manifest = everything.get_manifest()["objects"]
    ids = {m["id"]: m for m in manifest}
    assert len(ids) == len(manifest)
    wanted = [m["id"] for m in manifest[-2:]]
    assert stix_ids(everything.get_objects(id=wanted)) == wanted
    assert stix_ids(everything.get_objects(id=wanted[0], type="indicator")) == wanted[:1]
    assert everything.get_objects(type="malware") == {"more": False}
    assert everything.get_objects(spec_version="2.0") == {"more": False}
    assert len(stix_ids(everything.get_objects(spec_version="2.1", limit=5))) == 5
    version = ids[wanted[0]]["version"]
    same_version = [w for w in wanted if ids[w]["version"] == version]
    assert stix_ids(everything.get_objects(id=wanted, version=version)) == same_version
    assert stix_ids(everything.get_objects(id=wanted, version="last")) == wanted
    assert everything.get_objects(id=wanted, version="2001-01-01T00:00:00.000Z") == {"more": False}
    patterns = [o["pattern"] for o in everything.get_objects(id=wanted)["objects"]]
    assert [one["indicatorValue"] in patterns[0], two["indicatorValue"] in patterns[1]] == [
        True,
        True,
    ]


def test_one_object_its_versions_and_the_manifest(
    taxii_api: LiveApi, admin_headers: dict[str, str], blocked: Collection
) -> None:
    submit(taxii_api, admin_headers, action="Block")
    record = blocked.get_manifest()["objects"][-1]
    assert set(record) == {"id", "date_added", "version", "media_type"}
    assert record["media_type"] == STIX
    obj = blocked.get_object(record["id"])["objects"]
    assert [o["id"] for o in obj] == [record["id"]] and obj[0]["modified"] == record["version"]
    assert blocked.object_versions(record["id"]) == {
        "more": False,
        "versions": [record["version"]],
    }
    with pytest.raises(requests.HTTPError) as missing:
        blocked.get_object("indicator--00000000-0000-4000-8000-000000000000")
    assert missing.value.response.status_code == 404
    assert missing.value.response.headers["content-type"] == TAXII


def test_action_collections_hold_their_action_only(
    taxii_api: LiveApi, admin_headers: dict[str, str], admin: tuple[str, str]
) -> None:
    audit = submit(taxii_api, admin_headers, action="Audit")
    with collection(taxii_api, "audit", admin) as audited:
        labels = {label for o in newest(audited) for label in o["labels"]}
        patterns = " ".join(o["pattern"] for o in newest(audited))
    assert "iocd-action:Audit" in labels and "iocd-action:Block" not in labels
    assert audit["indicatorValue"] in patterns


def test_withdrawn_indicators_come_again_revoked(
    taxii_api: LiveApi, admin_headers: dict[str, str], everything: Collection
) -> None:
    taxii_api.clock.advance(timedelta(minutes=1))
    expiry = taxii_api.clock.now() + timedelta(minutes=5)
    deleted = submit(taxii_api, admin_headers)
    expiring = submit(taxii_api, admin_headers, expirationTime=expiry.isoformat())
    before = everything.get_manifest()["objects"][-2:]
    last_seen = before[-1]["date_added"]
    taxii_api.clock.advance(timedelta(seconds=1))
    response = taxii_api.http.delete(f"/api/indicators/{deleted['id']}", headers=admin_headers)
    assert response.status_code == 204
    taxii_api.clock.advance(timedelta(minutes=10))
    taxii_api.instance.indicators.sweep_expired()
    after = newest(everything, added_after=last_seen)
    assert [o["id"] for o in after] == [b["id"] for b in before]
    assert [o.get("revoked") for o in after] == [True, True]
    assert deleted["indicatorValue"] in after[0]["pattern"]
    assert expiring["indicatorValue"] in after[1]["pattern"] and "valid_until" in after[1]
    assert [o["modified"] > b["version"] for o, b in zip(after, before, strict=True)] == [
        True,
        True,
    ]
    assert everything.object_versions(after[1]["id"])["versions"] == [after[1]["modified"]]
    for obj in after:
        assert validate_instance(obj, OPTIONS).is_valid


def test_served_objects_pass_the_stix_validator(
    taxii_api: LiveApi, admin_headers: dict[str, str], everything: Collection
) -> None:
    submit(
        taxii_api,
        admin_headers,
        indicatorType="Url",
        indicatorValue="https://bad.example/it's",
        action="Warn",
        category="CommandAndControl",
        mitreTechniques=["T1071"],
    )
    objects = newest(everything)
    assert objects
    for obj in objects:
        result = validate_instance(obj, OPTIONS)
        assert result.is_valid, [str(e) for e in result.errors]


# -- writing ---------------------------------------------------------------------------------


def test_add_objects_reports_successes_and_failures(
    taxii_api: LiveApi,
    admin: tuple[str, str],
    admin_headers: dict[str, str],
    blocked: Collection,
) -> None:
    good = indicator("198.51.100.31", id="indicator--1f0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a31")
    two = indicator(
        "198.51.100.32",
        id="indicator--1f0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a32",
        pattern="[ipv4-addr:value = '198.51.100.32'] OR [domain-name:value = 'c2.example']",
        labels=["iocd-severity:High"],
    )
    bad_value = indicator("not-an-address", id="indicator--1f0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a33")
    matches = indicator(
        "x",
        id="indicator--1f0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a34",
        pattern="[url:value MATCHES '^https?://']",
    )
    identity = {"type": "identity", "spec_version": "2.1", "id": "identity--1", "name": "X"}
    status = blocked.add_objects({"objects": [good, two, bad_value, matches, identity]})
    assert status.status == "complete" and status.total_count == 5
    assert status.success_count == 2 and status.pending_count == 0
    assert [s["id"] for s in status.successes] == [good["id"], two["id"]]
    assert status.successes[0]["version"] == good["modified"]
    failed = {f["id"]: f["message"] for f in status.failures}
    assert set(failed) == {bad_value["id"], matches["id"], "identity--1"}
    assert "MATCHES" in failed[matches["id"]]
    assert "indicator objects only" in failed["identity--1"]
    listed = taxii_api.http.get(
        "/api/indicators",
        params={"$filter": "externalId eq '" + two["id"] + "'"},
        headers=admin_headers,
    ).json()["value"]
    assert {(i["indicatorValue"], i["action"], i["severity"]) for i in listed} == {
        ("198.51.100.32", "Block", "High"),
        ("c2.example", "Block", "High"),
    }
    assert {i["createdBySource"] for i in listed} == {"Taxii"}
    with Status(status.url, user=admin[0], password=admin[1]) as again:  # no trailing slash
        again.refresh()
        assert again.status == "complete" and again.success_count == 2
    slashed = taxii_api.http.get(f"/taxii2/api/status/{status.id}/", headers=admin_headers)
    assert slashed.status_code == 200 and slashed.json()["failure_count"] == 3


def test_writing_to_all_takes_the_action_from_labels(
    taxii_api: LiveApi, admin_headers: dict[str, str], everything: Collection
) -> None:
    labelled = indicator(
        "198.51.100.41",
        id="indicator--2a0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a41",
        labels=["iocd-action:Allowed"],
    )
    plain = indicator("198.51.100.42", id="indicator--2a0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a42")
    wrong = indicator(
        "198.51.100.43",
        id="indicator--2a0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a43",
        labels=["iocd-action:Explode"],
    )
    status = everything.add_objects({"objects": [labelled, plain, wrong]})
    assert status.success_count == 2 and [f["id"] for f in status.failures] == [wrong["id"]]
    actions = {
        i["indicatorValue"]: i["action"]
        for i in taxii_api.http.get(
            "/api/indicators",
            params={"$filter": "startswith(indicatorValue, '198.51.100.4')"},
            headers=admin_headers,
        ).json()["value"]
    }
    assert actions == {"198.51.100.41": "Allowed", "198.51.100.42": "Audit"}


def test_a_stix_bundle_is_accepted_and_delete_object_revokes(
    taxii_api: LiveApi, admin_headers: dict[str, str], blocked: Collection
) -> None:
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [indicator("198.51.100.51")]}
    response = taxii_api.http.post(
        url_of(taxii_api, "block") + "objects/",
        json=bundle,
        headers={**admin_headers, "Content-Type": STIX, "Accept": TAXII},
    )
    assert response.status_code == 202 and response.headers["content-type"] == TAXII
    assert response.json()["success_count"] == 1
    record = blocked.get_manifest()["objects"][-1]
    blocked.delete_object(record["id"])
    (gone,) = blocked.get_object(record["id"])["objects"]
    assert gone["revoked"] is True and gone["modified"] > record["version"]


# -- access ----------------------------------------------------------------------------------


def test_a_reader_reads_but_cannot_write(taxii_api: LiveApi, admin_headers: dict[str, str]) -> None:
    name, headers = taxii_api.user(Role.READ_ONLY)
    token = headers["Authorization"].removeprefix("Bearer ")
    submit(taxii_api, admin_headers)
    with collection(taxii_api, "all", (name, token)) as readable:  # Basic, personal token
        assert not readable.can_write and readable.can_read
        assert readable.get_objects(limit=1)["objects"]
        with pytest.raises(AccessError):
            readable.add_objects({"objects": [indicator("198.51.100.61")]})
    response = taxii_api.http.post(
        url_of(taxii_api, "all") + "objects/",
        json={"objects": [indicator("198.51.100.61")]},
        headers={**headers, "Content-Type": TAXII},
    )
    assert response.status_code == 403 and response.headers["content-type"] == TAXII
    assert response.json()["http_status"] == "403"


def test_device_group_scoping(taxii_api: LiveApi, admin_headers: dict[str, str]) -> None:
    group = taxii_api.group()
    other = taxii_api.group()
    name, headers = taxii_api.user(Role.ANALYST, (group,))
    token = headers["Authorization"].removeprefix("Bearer ")
    mine = submit(taxii_api, admin_headers, rbacGroupNames=[group])
    theirs = submit(taxii_api, admin_headers, rbacGroupNames=[other])
    everywhere = submit(taxii_api, admin_headers)
    with collection(taxii_api, "all", (name, token)) as scoped:
        seen = " ".join(o["pattern"] for o in newest(scoped))
        assert mine["indicatorValue"] in seen
        assert theirs["indicatorValue"] not in seen and everywhere["indicatorValue"] not in seen
        status = scoped.add_objects(
            {
                "objects": [
                    indicator("198.51.100.71", labels=[f"iocd-device-group:{group}"]),
                    indicator(
                        "198.51.100.72", id="indicator--3a0b6b5e-7d4b-4c52-9a9b-0c6f5d1e2a72"
                    ),
                ]
            }
        )
        assert status.success_count == 1
        assert "all devices" in status.failures[0]["message"]
    with collection(taxii_api, "all", taxii_api.register_app()) as full:
        theirs_id = next(o["id"] for o in newest(full) if theirs["indicatorValue"] in o["pattern"])
    response = taxii_api.http.get(
        url_of(taxii_api, "all") + f"objects/{theirs_id}/", headers=headers
    )
    assert response.status_code == 403 and response.headers["content-type"] == TAXII


def test_an_own_only_application_sees_its_own(taxii_api: LiveApi) -> None:
    client_id, secret = taxii_api.register_app(AppRole.READ_WRITE)
    own = submit(taxii_api, bearer(taxii_api.token(client_id, secret)))
    with collection(taxii_api, "all", (client_id, secret)) as mine:
        patterns = [o["pattern"] for o in newest(mine)]
    assert len(patterns) == 1 and own["indicatorValue"] in patterns[0]


# -- errors: TAXII error messages, with the TAXII media type ---------------------------------


def assert_taxii_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII
    error = response.json()
    assert error["http_status"] == str(status) and error["title"] and error["description"]
    return error


@pytest.mark.parametrize(
    "path",
    ["/taxii2/", "/taxii2/api/", "/taxii2/api/collections/", "/taxii2/api/status/x/"],
)
def test_every_endpoint_needs_credentials(taxii_api: LiveApi, path: str) -> None:
    response = taxii_api.http.get(path)
    assert_taxii_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic")
    wrong = taxii_api.http.get(path, auth=("no-such-client", "secret"))
    assert_taxii_error(wrong, 401)
    assert_taxii_error(taxii_api.http.get(path, headers=bearer("not-a-token")), 401)


def test_errors_are_taxii_shaped(taxii_api: LiveApi, admin_headers: dict[str, str]) -> None:
    http, objects = taxii_api.http, url_of(taxii_api, "all") + "objects/"
    taxii_json = {**admin_headers, "Content-Type": TAXII}
    assert_taxii_error(http.get("/taxii2/api/collections/nope/", headers=admin_headers), 404)
    assert_taxii_error(http.get("/taxii2/api/nowhere/", headers=admin_headers), 404)
    assert_taxii_error(http.get("/taxii2/api/status/unknown/", headers=admin_headers), 404)
    assert_taxii_error(http.put(objects, headers=admin_headers), 405)
    assert_taxii_error(http.get(objects, headers={**admin_headers, "Accept": "text/html"}), 406)
    assert_taxii_error(
        http.get(
            objects,
            headers={**admin_headers, "Accept": "application/taxii+json;version=2.0"},
        ),
        406,
    )
    assert_taxii_error(http.get(objects, params={"limit": "0"}, headers=admin_headers), 400)
    assert_taxii_error(http.get(objects, params={"next": "x"}, headers=admin_headers), 400)
    assert_taxii_error(
        http.get(objects, params={"added_after": "yesterday"}, headers=admin_headers), 400
    )
    assert_taxii_error(http.post(objects, content=b"{not json", headers=taxii_json), 400)
    assert_taxii_error(http.post(objects, json={"objects": "no"}, headers=taxii_json), 400)
    assert_taxii_error(http.post(objects, json=[1, 2], headers=taxii_json), 400)
    plain = {**admin_headers, "Content-Type": "application/json"}
    assert_taxii_error(http.post(objects, json={"objects": []}, headers=plain), 415)
    text = {**admin_headers, "Content-Type": "text/plain"}
    assert_taxii_error(http.post(objects, content=b"1.2.3.4", headers=text), 415)
    too_many = {
        "objects": [{"type": "indicator"}] * (taxii_api.instance.settings.import_batch_size + 1)
    }
    assert_taxii_error(http.post(objects, json=too_many, headers=taxii_json), 413)


def test_redirects_and_rate_limits_say_the_media_type_too(taxii_api: LiveApi) -> None:
    for path in ("/taxii2", "/taxii2/api"):
        response = taxii_api.http.get(path, follow_redirects=False)
        assert response.status_code == 307 and response.headers["content-type"] == TAXII
    limited = taxii_api.register_app(rate_limit=1)
    assert taxii_api.http.get("/taxii2/", auth=limited).status_code == 200
    response = taxii_api.http.get("/taxii2/", auth=limited)
    assert_taxii_error(response, 429)
    assert int(response.headers["retry-after"]) >= 1


def test_a_limit_past_the_maximum_is_lowered(
    taxii_api: LiveApi, admin_headers: dict[str, str]
) -> None:
    response = taxii_api.http.get(
        url_of(taxii_api, "all") + "objects/", params={"limit": "999999"}, headers=admin_headers
    )
    assert response.status_code == 200 and response.headers["content-type"] == TAXII


def test_the_client_library_sees_the_api_root(taxii_api: LiveApi, admin: tuple[str, str]) -> None:
    user, password = admin
    with ApiRoot(f"{taxii_api.base_url}/taxii2/api/", user=user, password=password) as root:
        assert root.title and len(root.collections) == 6
