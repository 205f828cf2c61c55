"""Per-application rate limits (SPEC 7): off by default; past the limit, 429 with Retry-After."""

from __future__ import annotations

from tests.api.api_support import LiveApi, assert_mde_error, body


def test_fourth_call_in_a_minute_is_429_and_others_are_unaffected(api: LiveApi) -> None:
    limited = api.app_headers(rate_limit=3)
    neighbour = api.app_headers(rate_limit=3)
    unlimited = api.app_headers()
    calls = [
        lambda: api.http.get("/api/indicators", params={"$top": "1"}, headers=limited),
        lambda: api.http.post("/api/indicators", json=body(), headers=limited),
        lambda: api.http.get("/api/v1.0/indicators", params={"$top": "1"}, headers=limited),
    ]
    for call in calls:
        assert call().status_code == 200
    response = api.http.get("/api/indicators", headers=limited)
    error = assert_mde_error(response, 429, "TooManyRequests")
    assert "3" in error["message"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    # still limited on every endpoint, writes included, and nothing is written
    before = api.instance.indicators.active_count()
    assert_mde_error(
        api.http.post("/api/indicators", json=body(), headers=limited), 429, "TooManyRequests"
    )
    assert api.instance.indicators.active_count() == before
    # other applications are unaffected
    for _ in range(3):
        assert api.http.get("/api/indicators", params={"$top": "1"}, headers=neighbour).is_success
    for _ in range(10):
        assert api.http.get("/api/indicators", params={"$top": "1"}, headers=unlimited).is_success


def test_a_new_token_does_not_reset_the_limit(api: LiveApi) -> None:
    client_id, secret = api.register_app(rate_limit=3)
    for _ in range(3):
        headers = {"Authorization": f"Bearer {api.token(client_id, secret)}"}
        assert api.http.get("/api/indicators", params={"$top": "1"}, headers=headers).is_success
    fresh = {"Authorization": f"Bearer {api.token(client_id, secret)}"}
    assert_mde_error(api.http.get("/api/indicators", headers=fresh), 429, "TooManyRequests")


def test_unauthenticated_calls_are_401_not_429(api: LiveApi) -> None:
    headers = api.app_headers(rate_limit=3)
    for _ in range(3):
        assert api.http.get("/api/indicators", params={"$top": "1"}, headers=headers).is_success
    assert_mde_error(api.http.get("/api/indicators"), 401, "Unauthorized")
