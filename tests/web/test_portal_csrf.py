"""Every POST needs the page's CSRF token; the API keeps its own answers beside the portal."""

from __future__ import annotations

import pytest

from iocd.domain.principal import Role
from tests.web.portal_support import LivePortal, csrf_of


@pytest.fixture
def signed_in(shared_portal: LivePortal) -> tuple[LivePortal, object]:
    name, _ = shared_portal.user(Role.SECURITY_ADMINISTRATOR)
    client = shared_portal.client()
    shared_portal.sign_in(client, name)
    return shared_portal, client


@pytest.mark.parametrize(
    "data", [{}, {"csrf_token": ""}, {"csrf_token": "0" * 64}, {"csrf_token": "x"}]
)
def test_post_without_the_right_token_is_403(signed_in: tuple, data: dict) -> None:
    _, client = signed_in
    response = client.post("/signout", data=data)
    assert response.status_code == 403
    assert "security token" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert client.get("/").status_code == 200  # still signed in


def test_a_token_from_another_session_is_refused(signed_in: tuple) -> None:
    portal, client = signed_in
    name, _ = portal.user(Role.READ_ONLY)
    other = portal.client()
    portal.sign_in(other, name)
    foreign = csrf_of(other.get("/"))
    assert client.post("/signout", data={"csrf_token": foreign}).status_code == 403
    mine = csrf_of(client.get("/"))
    assert mine != foreign
    assert client.post("/signout", data={"csrf_token": mine}).status_code == 303


def test_cross_origin_posts_are_refused_even_with_a_token(signed_in: tuple) -> None:
    _, client = signed_in
    token = csrf_of(client.get("/"))
    response = client.post(
        "/signout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


def test_the_header_form_of_the_token(signed_in: tuple) -> None:
    _, client = signed_in
    token = csrf_of(client.get("/"))
    assert client.post("/signout", headers={"X-CSRF-Token": token}).status_code == 303


def test_sign_in_form_is_protected_too(shared_portal: LivePortal) -> None:
    client = shared_portal.client()
    response = client.post("/signin", data={"name": "admin", "password": "whatever it is"})
    assert response.status_code == 403


def test_api_and_portal_answer_side_by_side(shared_portal: LivePortal) -> None:
    client = shared_portal.client()
    api_404 = client.get("/api/nothing-here")
    assert api_404.status_code == 404
    assert api_404.json()["error"]["code"] == "NotFound"
    page_404 = client.get("/nothing-here")
    assert page_404.status_code == 404
    assert page_404.headers["content-type"].startswith("text/html")
    assert client.get("/health").json()["status"] == "ok"
    assert "/signin" not in client.get("/openapi.json").text
    page = client.get("/signin")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/static/iocd.css").status_code == 200
