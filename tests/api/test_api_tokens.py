"""OAuth2 client credentials (both token endpoints) and bearer authentication on /api (SPEC 7)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from iocd.clock import FixedClock
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import ADMIN, START, LiveApi, StartApi, assert_mde_error, bearer

SCOPE = "https://api.securitycenter.microsoft.com/.default"


def form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
        **extra,
    }


def assert_token_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    got = response.json()
    assert got["token_type"] == "Bearer"
    assert got["expires_in"] == 3599
    assert isinstance(got["access_token"], str)
    assert got["access_token"].count(".") == 2
    return got


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    got = response.json()
    assert got["error"] == error
    assert isinstance(got["error_description"], str)
    assert got["error_description"]


def can_list(api: LiveApi, headers: dict[str, str]) -> bool:
    return api.http.get("/api/indicators", params={"$top": "1"}, headers=headers).is_success


# -- token endpoints ----------------------------------------------------------------------------


def test_v2_token_form_post_carries_roles_tenant_app_and_one_hour(api: LiveApi) -> None:
    client_id, secret = api.register_app(AppRole.READ_WRITE)
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token", data=form(client_id, secret, scope=SCOPE)
    )
    got = assert_token_body(response)
    claims = claims_of(got["access_token"])
    assert claims["roles"] == ["Ti.ReadWrite"]
    assert claims["tid"] == api.tenant
    assert claims["appid"] == client_id
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] == int(START.timestamp())
    assert can_list(api, bearer(got["access_token"]))


def test_v1_token_post_with_resource(api: LiveApi) -> None:
    client_id, secret = api.register_app(AppRole.READ_WRITE_ALL)
    response = api.http.post(
        f"/{api.tenant}/oauth2/token",
        data=form(client_id, secret, resource="https://api.securitycenter.microsoft.com"),
    )
    got = assert_token_body(response)
    claims = claims_of(got["access_token"])
    assert claims["roles"] == ["Ti.ReadWrite.All"]
    assert claims["appid"] == client_id
    assert can_list(api, bearer(got["access_token"]))


def test_v1_token_get_with_query_string(api: LiveApi) -> None:
    client_id, secret = api.register_app()
    response = api.http.get(
        f"/{api.tenant}/oauth2/token",
        params=form(client_id, secret, resource="https://iocd.example.com/"),
    )
    got = assert_token_body(response)
    assert claims_of(got["access_token"])["tid"] == api.tenant
    assert can_list(api, bearer(got["access_token"]))


def test_http_basic_client_authentication(api: LiveApi) -> None:
    client_id, secret = api.register_app()
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(client_id, secret),
    )
    got = assert_token_body(response)
    assert claims_of(got["access_token"])["appid"] == client_id


@pytest.mark.parametrize(
    "scope",
    [
        "https://api.securitycenter.microsoft.com/.default",
        "https://iocd.internal.example:8443/.default",
        "api://whatever/anything",
        "",
    ],
)
def test_any_scope_is_accepted(api: LiveApi, scope: str) -> None:
    client_id, secret = api.register_app()
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token", data=form(client_id, secret, scope=scope)
    )
    assert_token_body(response)


@pytest.mark.parametrize("tenant_kind", ["common", "organizations"])
def test_well_known_tenant_aliases_are_accepted(api: LiveApi, tenant_kind: str) -> None:
    client_id, secret = api.register_app()
    response = api.http.post(f"/{tenant_kind}/oauth2/v2.0/token", data=form(client_id, secret))
    assert_token_body(response)


def test_wrong_secret_is_invalid_client(api: LiveApi) -> None:
    client_id, _ = api.register_app()
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token", data=form(client_id, "not-the-secret")
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_unknown_client_is_invalid_client(api: LiveApi) -> None:
    _, secret = api.register_app()
    unknown = "00000000-0000-0000-0000-000000000000"
    for path in (f"/{api.tenant}/oauth2/v2.0/token", f"/{api.tenant}/oauth2/token"):
        assert_oauth_error(api.http.post(path, data=form(unknown, secret)), 401, "invalid_client")


def test_revoked_app_cannot_get_a_token(api: LiveApi) -> None:
    client_id, secret = api.register_app()
    api.instance.accounts.revoke_application(client_id, ADMIN)
    response = api.http.post(f"/{api.tenant}/oauth2/v2.0/token", data=form(client_id, secret))
    assert_oauth_error(response, 401, "invalid_client")


def test_wrong_basic_secret_is_invalid_client(api: LiveApi) -> None:
    client_id, _ = api.register_app()
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, "wrong"),
    )
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "", "CLIENT_CREDENTIALS"])
def test_wrong_grant_type_is_unsupported(api: LiveApi, grant_type: str) -> None:
    client_id, secret = api.register_app()
    data = {**form(client_id, secret), "grant_type": grant_type}
    response = api.http.post(f"/{api.tenant}/oauth2/v2.0/token", data=data)
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_credentials_is_invalid_request(api: LiveApi) -> None:
    response = api.http.post(
        f"/{api.tenant}/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_other_tenant_in_the_path_is_refused(api: LiveApi) -> None:
    client_id, secret = api.register_app()
    other = "11111111-2222-3333-4444-555555555555"
    for path in (f"/{other}/oauth2/v2.0/token", f"/{other}/oauth2/token"):
        assert_oauth_error(api.http.post(path, data=form(client_id, secret)), 401, "invalid_client")


# -- bearer authentication on /api --------------------------------------------------------------


def assert_unauthorized(api: LiveApi, headers: dict[str, str]) -> None:
    for prefix in ("/api", "/api/v1.0"):
        response = api.http.get(f"{prefix}/indicators", headers=headers)
        assert_mde_error(response, 401, "Unauthorized")
    response = api.http.post("/api/indicators", json={"indicatorValue": "x"}, headers=headers)
    assert_mde_error(response, 401, "Unauthorized")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer \t x"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Bearer iocd_pat_"},
        {"Authorization": "Bearer iocd_pat_0000_nope"},
        {"Authorization": "Token abc.def.ghi"},
    ],
    ids=[
        "missing",
        "empty",
        "no-token",
        "blank",
        "basic",
        "not-jwt",
        "garbage",
        "pat-empty",
        "pat-unknown",
        "other-scheme",
    ],
)
def test_missing_or_malformed_authorization(api: LiveApi, headers: dict[str, str]) -> None:
    assert_unauthorized(api, headers)


def test_expired_token_is_refused(start_api: StartApi) -> None:
    clock = FixedClock(START)
    api = start_api(clock=clock)
    headers = api.app_headers()
    assert can_list(api, headers)
    clock.advance(timedelta(minutes=59, seconds=59))
    assert can_list(api, headers)
    clock.advance(timedelta(seconds=1))
    assert_unauthorized(api, headers)


def test_token_issued_by_a_clock_ahead_of_the_wall_clock_works(start_api: StartApi) -> None:
    """All time claims are judged by the instance's clock, never the wall clock."""
    clock = FixedClock(START + timedelta(hours=2))
    api = start_api(clock=clock)
    assert can_list(api, api.app_headers())


def test_token_not_yet_valid_is_refused(start_api: StartApi) -> None:
    clock = FixedClock(START)
    api = start_api(clock=clock)
    headers = api.app_headers()
    clock.set(START - timedelta(minutes=5))
    assert_unauthorized(api, headers)


def _signed(api: LiveApi, key: bytes, **changes: Any) -> str:
    token = api.token(*api.register_app())
    claims = {**claims_of(token), **changes}
    return jwt.encode(claims, key, algorithm="HS256")


def _instance_key(api: LiveApi) -> bytes:
    with api.instance.store.accounts() as tx:
        key = tx.get_setting("jwt_signing_key")
    assert key is not None
    return base64.urlsafe_b64decode(key)


def test_token_signed_with_another_key_is_refused(api: LiveApi) -> None:
    forged = _signed(api, b"another key that is at least 32 bytes long!!")
    assert_unauthorized(api, bearer(forged))


def test_forged_role_claim_is_refused(api: LiveApi) -> None:
    token = api.token(*api.register_app(AppRole.READ_WRITE))
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "roles": ["Ti.ReadWrite.All"]}
    forged_payload = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    assert_unauthorized(api, bearer(f"{header}.{forged_payload}.{signature}"))


def test_unsigned_token_is_refused(api: LiveApi) -> None:
    claims = claims_of(api.token(*api.register_app()))
    assert_unauthorized(api, bearer(jwt.encode(claims, None, algorithm="none")))


def test_token_of_another_tenant_is_refused(api: LiveApi) -> None:
    key = _instance_key(api)
    other = "99999999-8888-7777-6666-555555555555"
    assert_unauthorized(api, bearer(_signed(api, key, tid=other, iss=f"iocd:{other}")))
    assert_unauthorized(api, bearer(_signed(api, key, tid=other)))
    assert_unauthorized(api, bearer(_signed(api, key, iss=f"iocd:{other}")))
    # the same key and claims re-signed unchanged still work: the refusals above are the tenant's
    assert can_list(api, bearer(_signed(api, key)))


def test_token_of_another_audience_is_refused(api: LiveApi) -> None:
    assert_unauthorized(api, bearer(_signed(api, _instance_key(api), aud="someone-else")))


def test_revoked_app_token_stops_working_at_once(api: LiveApi) -> None:
    client_id, secret = api.register_app()
    headers = bearer(api.token(client_id, secret))
    assert can_list(api, headers)
    api.instance.accounts.revoke_application(client_id, ADMIN)
    assert_unauthorized(api, headers)


def test_personal_token_works_then_disabled_user_is_refused(api: LiveApi) -> None:
    name, headers = api.user(Role.SECURITY_ADMINISTRATOR)
    assert can_list(api, headers)
    api.instance.accounts.disable_user(name, ADMIN)
    assert_unauthorized(api, headers)


def test_revoked_personal_token_is_refused(api: LiveApi) -> None:
    name, headers = api.user(Role.SECURITY_ADMINISTRATOR)
    assert can_list(api, headers)
    api.instance.accounts.revoke_personal_token(api.token_id_of(name), ADMIN)
    assert_unauthorized(api, headers)


def test_personal_token_with_wrong_secret_is_refused(api: LiveApi) -> None:
    _, headers = api.user(Role.SECURITY_ADMINISTRATOR)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert_unauthorized(
        api, bearer(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    )


def test_unauthorized_carries_www_authenticate(api: LiveApi) -> None:
    response = api.http.get("/api/indicators")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].lower().startswith("bearer")
