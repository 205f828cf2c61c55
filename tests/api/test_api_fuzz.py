"""Schemathesis fuzzing of the live server from its own /openapi.json (schemathesis 4).

No request may produce a 5xx; every 4xx carries the MDE error body, except the two OAuth2 token
endpoints, whose errors are OAuth2-shaped. The fuzzer runs against a server of its own (it
deletes and batch-deletes whatever ids it makes up), authenticated as a Ti.ReadWrite.All app.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.api_support import LiveApi, StartApi

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzz_target(start_api: StartApi) -> LiveApi:
    return start_api()


@pytest.fixture(scope="module")
def fuzz_headers(fuzz_target: LiveApi) -> dict[str, str]:
    return fuzz_target.app_headers()


@pytest.fixture(scope="module")
def api_schema(fuzz_target: LiveApi) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_target.base_url}/openapi.json")


# Every operation the OpenAPI document must publish (checked below), fuzzed one by one.
OPERATIONS = [
    (method, prefix + path)
    for prefix in ("/api", "/api/v1.0")
    for method, path in [
        ("GET", "/indicators"),
        ("POST", "/indicators"),
        ("GET", "/indicators/{indicator_id}"),
        ("DELETE", "/indicators/{indicator_id}"),
        ("POST", "/indicators/import"),
        ("POST", "/indicators/BatchDelete"),
        ("GET", "/alerts"),
        ("GET", "/alerts/{alert_id}"),
        ("PATCH", "/alerts/{alert_id}"),
        ("POST", "/telemetry"),
        ("GET", "/explain"),
        ("GET", "/agents"),
        ("POST", "/agents/enrollmentTokens"),
        ("GET", "/agents/enrollmentTokens"),
        ("DELETE", "/agents/enrollmentTokens/{token_id}"),
        ("POST", "/agents/enroll"),
        ("GET", "/agents/policy/snapshot"),
        ("GET", "/agents/policy"),
        ("POST", "/agents/status"),
        ("POST", "/agents/reports"),
        ("POST", "/verdicts"),
        ("GET", "/investigations"),
        ("GET", "/investigations/{investigation_id}"),
        ("GET", "/alerts/{alert_id}/investigation"),
        ("GET", "/agents/tasks"),
        ("POST", "/agents/tasks/{task_id}"),
        ("POST", "/indicators/import/file"),
        ("GET", "/feeds"),
        ("POST", "/feeds"),
        ("GET", "/feeds/{name}"),
        ("DELETE", "/feeds/{name}"),
        ("GET", "/feeds/{name}/runs"),
        ("POST", "/feeds/{name}/run"),
        ("GET", "/outputs"),
        ("GET", "/outputs/edl/{name}.txt"),
        ("GET", "/outputs/rpz.zone"),
        ("GET", "/outputs/suricata.rules"),
        ("GET", "/outputs/suricata/{name}.lst"),
        ("GET", "/outputs/clamav.hsb"),
    ]
] + [
    ("POST", "/{tenant}/oauth2/v2.0/token"),
    ("POST", "/{tenant}/oauth2/token"),
    ("GET", "/{tenant}/oauth2/token"),
    ("GET", "/health"),
]


def test_openapi_publishes_every_operation(api_schema: Any) -> None:
    published = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


def check_response(case: Any, response: Any) -> None:
    status = response.status_code
    where = f"{case.method} {case.formatted_path} -> {status}: {response.text[:300]}"
    assert status < 500, where
    if status < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]  # lower-case keys, list values
    assert content_type.startswith("application/json"), where
    payload = response.json()
    assert isinstance(payload, dict), where
    if "/oauth2/" in case.path:
        assert set(payload) == {"error", "error_description"}, where
        assert isinstance(payload["error"], str), where
        assert isinstance(payload["error_description"], str), where
        return
    assert set(payload) == {"error"}, where
    error = payload["error"]
    assert isinstance(error, dict), where
    assert set(error) == {"code", "message", "target"}, where
    assert all(isinstance(error[k], str) and error[k] for k in error), where


# schemathesis' own pytest integration (`from_fixture(...).parametrize()`) does not run under
# pytest 9 (it reads Function._nodeid), so each operation's strategy is driven by Hypothesis here.
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_and_mde_error_bodies(
    api_schema: Any, fuzz_target: LiveApi, fuzz_headers: dict[str, str], method: str, path: str
) -> None:
    operation = api_schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    if operation.path_parameters or operation.query or operation.body:
        strategy = st.one_of(strategy, operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case: Any) -> None:
        response = case.call(base_url=fuzz_target.base_url, headers=fuzz_headers, timeout=30)
        check_response(case, response)

    fuzz()


# -- indicator bodies that reach the domain: real enums, odd values ------------------------------

HEX = "0123456789abcdefABCDEF"
DOMAIN = st.from_regex(
    r"\A[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}\.(com|example|internal|xn--p1ai)\Z"
)
# (type, value) pairs that are mostly valid, so that writes reach the store, plus odd ones.
TYPED_VALUES = st.one_of(
    st.tuples(st.just("FileSha256"), st.text(alphabet=HEX, min_size=64, max_size=64)),
    st.tuples(st.just("FileSha1"), st.text(alphabet=HEX, min_size=40, max_size=40)),
    st.tuples(st.just("FileMd5"), st.text(alphabet=HEX, min_size=32, max_size=32)),
    st.tuples(st.just("CertificateThumbprint"), st.text(alphabet=HEX, min_size=40, max_size=40)),
    st.tuples(st.just("IpAddress"), st.ip_addresses().map(str)),
    st.tuples(st.just("DomainName"), DOMAIN),
    st.tuples(st.just("Url"), DOMAIN.map(lambda d: f"https://{d}/dl?x=1&y=%41")),
    st.tuples(
        st.sampled_from(["FileSha256", "IpAddress", "DomainName", "Url", "filesha1", "Nope", ""]),
        st.one_of(
            st.text(max_size=80),
            st.from_regex(r"\A([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,3})?\Z"),
            st.from_regex(r"\A(https?|ftp)://[a-zA-Z0-9.:\[\]@-]{1,30}/[ -~]{0,30}\Z"),
        ),
    ),
)
ACTIONS = [
    "Allowed",
    "Audit",
    "Warn",
    "Block",
    "BlockAndRemediate",
    "Alert",
    "AlertAndBlock",
    "block",
    "Nope",
    "",
]
OPTIONAL_TEXT = st.one_of(st.none(), st.text(max_size=20))
# Clean bodies (every field well-formed) are written; odd ones must fail with a proper error.
CLEAN = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["Allowed", "Audit", "Block", "Warn", "AlertAndBlock"]),
        "title": st.text(min_size=1, max_size=20).filter(str.strip),
        "description": st.just("fuzzed"),
        "generateAlert": st.just(True),
    },
    optional={
        "severity": st.sampled_from(["Informational", "Low", "Medium", "High"]),
        "expirationTime": st.sampled_from(
            [None, "2099-01-01T00:00:00Z", "2099-01-01T00:00:00.1234567+02:00"]
        ),
        "mitreTechniques": st.lists(st.sampled_from(["T1059", "T1059.001"]), max_size=2),
        "externalId": st.text(max_size=20),
        "overrideJustification": st.just("fuzzing"),
    },
)
ODD = st.fixed_dictionaries(
    {
        "action": st.sampled_from(ACTIONS),
        "title": st.one_of(st.just("fuzzed"), st.text(max_size=20)),
        "description": st.one_of(st.just("fuzzed"), st.text(max_size=20)),
    },
    optional={
        "severity": st.sampled_from(["Informational", "Low", "Medium", "High", "Severe", ""]),
        "generateAlert": st.one_of(st.booleans(), st.none()),
        "expirationTime": st.one_of(
            st.none(),
            st.sampled_from(
                [
                    "2099-01-01T00:00:00Z",
                    "2000-01-01T00:00:00Z",
                    "0001-01-01T00:00:00",
                    "9999-12-31T23:59:59.9999999Z",
                    "not a date",
                    "",
                ]
            ),
        ),
        "rbacGroupNames": st.lists(st.text(max_size=10), max_size=3),
        "mitreTechniques": st.lists(st.sampled_from(["T1059", "T1059.001", "t1", "X"]), max_size=3),
        "category": OPTIONAL_TEXT,
        "educateUrl": OPTIONAL_TEXT,
        "externalId": OPTIONAL_TEXT,
        "id": st.one_of(st.none(), st.integers(-5, 10**20), st.text(max_size=5)),
        "overrideJustification": OPTIONAL_TEXT,
    },
)
BODIES = st.one_of(CLEAN, ODD).flatmap(
    lambda fields: TYPED_VALUES.map(
        lambda pair: {**fields, "indicatorType": pair[0], "indicatorValue": pair[1]}
    )
)


def test_fuzzed_indicator_bodies(fuzz_target: LiveApi, fuzz_headers: dict[str, str]) -> None:
    api = fuzz_target

    @given(item=BODIES, batch=st.lists(BODIES, max_size=4))
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(item: dict[str, Any], batch: list[dict[str, Any]]) -> None:
        response = api.http.post("/api/indicators", json=item, headers=fuzz_headers)
        assert response.status_code in (200, 400, 403, 404, 409), response.text
        if response.status_code == 200:
            assert response.json()["id"].isdigit()
        else:
            assert set(response.json()["error"]) == {"code", "message", "target"}
        response = api.http.post(
            "/api/indicators/import", json={"Indicators": batch}, headers=fuzz_headers
        )
        assert response.status_code == 200, response.text
        value = response.json()["value"]
        assert len(value) == len(batch)
        for result in value:
            assert result["isFailed"] == (result["id"] is None)
            assert result["isFailed"] == (result["failureReason"] is not None)

    fuzz()
