"""First run, sign-in, sessions and sign-out over real HTTP."""

from __future__ import annotations

from datetime import timedelta

from iocd.domain.principal import Role
from iocd.services.credentials import digest
from tests.api.api_support import ADMIN
from tests.web.portal_support import LivePortal, csrf_of

PASSWORD = "correct horse battery"


def _setup(portal: LivePortal, **overrides: str) -> tuple[int, str]:
    client = portal.client()
    form = {
        "name": "root",
        "display_name": "Root Admin",
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "csrf_token": csrf_of(client.get("/setup")),
    }
    form.update(overrides)
    response = client.post("/setup", data=form)
    return response.status_code, response.text


def test_first_run_redirects_to_setup_until_an_administrator_exists(
    fresh_portal: LivePortal,
) -> None:
    client = fresh_portal.client()
    assert client.get("/").headers["location"] == "/setup"
    assert client.get("/signin").headers["location"] == "/setup"
    assert client.get("/indicators-or-anything").status_code == 404
    page = client.get("/setup")
    assert page.status_code == 200
    assert "first account" in page.text
    form = {
        "name": "root",
        "display_name": "Root Admin",
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "csrf_token": csrf_of(page),
    }
    created = client.post("/setup", data=form)
    assert created.status_code == 303
    assert created.headers["location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Root Admin" in dashboard.text
    assert "Global administrator" in dashboard.text
    users = fresh_portal.instance.accounts.list_users(ADMIN)
    assert [(u.name, u.role) for u in users] == [("root", Role.GLOBAL_ADMINISTRATOR)]
    assert users[0].password_hash is not None and PASSWORD not in users[0].password_hash


def test_setup_is_refused_once_a_user_exists(fresh_portal: LivePortal) -> None:
    assert _setup(fresh_portal)[0] == 303
    other = fresh_portal.client()
    assert other.get("/setup").headers["location"] == "/signin"
    token = csrf_of(other.get("/signin"))
    again = other.post(
        "/setup",
        data={
            "name": "intruder",
            "password": PASSWORD,
            "confirmation": PASSWORD,
            "csrf_token": token,
        },
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/signin"
    assert [u.name for u in fresh_portal.instance.accounts.list_users(ADMIN)] == ["root"]


def test_setup_checks_the_password(fresh_portal: LivePortal) -> None:
    status, text = _setup(fresh_portal, password="short", confirmation="short")
    assert status == 400
    assert "at least 12 characters" in text
    status, text = _setup(fresh_portal, confirmation=PASSWORD + "!")
    assert status == 400
    assert "differ" in text
    status, text = _setup(fresh_portal, name="bad/name")
    assert status == 400
    assert fresh_portal.instance.sessions.needs_setup()


def test_session_cookie_is_httponly_lax_and_only_its_hash_is_stored(
    shared_portal: LivePortal,
) -> None:
    name, password = shared_portal.user(Role.READ_ONLY)
    client = shared_portal.client()
    token = csrf_of(client.get("/signin"))
    response = client.post(
        "/signin", data={"name": name, "password": password, "csrf_token": token, "next": "/"}
    )
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if "iocd_session=" in c)
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    value = client.cookies["iocd_session"]
    with shared_portal.instance.store.sessions(readonly=True) as tx:
        assert tx.get_session(value) is None
        stored = tx.get_session(digest(value))
    assert stored is not None and stored.user_name == name


def test_wrong_password_is_refused_and_audited(shared_portal: LivePortal) -> None:
    name, _ = shared_portal.user(Role.ANALYST)
    client = shared_portal.client()
    token = csrf_of(client.get("/signin"))
    for user in (name, "nobody-at-all"):
        response = client.post(
            "/signin", data={"name": user, "password": "wrong password!", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "not right" in response.text
        assert "iocd_session" not in client.cookies
    with shared_portal.instance.store.accounts(readonly=True) as tx:
        recent = tx.recent_audit(10)
    failed = [e for e in recent if e.action == "sign-in failed"]
    assert {e.actor for e in failed} >= {name, "nobody-at-all"}
    assert all(e.door == "Portal" and e.changes["address"] == "127.0.0.1" for e in failed)


def test_repeated_failures_are_throttled(fresh_portal: LivePortal) -> None:
    name, password = fresh_portal.user(Role.READ_ONLY)
    client = fresh_portal.client()
    token = csrf_of(client.get("/signin"))
    statuses = [
        client.post(
            "/signin", data={"name": name, "password": "nope nope nope", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    right = client.post("/signin", data={"name": name, "password": password, "csrf_token": token})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0
    fresh_portal.clock.advance(timedelta(minutes=16))
    fresh_portal.sign_in(client, name)


def test_next_stays_on_the_site(shared_portal: LivePortal) -> None:
    name, password = shared_portal.user(Role.READ_ONLY)
    client = shared_portal.client()
    assert (
        client.get("/search?q=1.2.3.4").headers["location"]
        == "/signin?next=%2Fsearch%3Fq%3D1.2.3.4"
    )
    token = csrf_of(client.get("/signin"))
    for target, expected in (("/search?q=1.2.3.4", "/search?q=1.2.3.4"), ("//evil.example", "/")):
        client.cookies.clear()
        token = csrf_of(client.get("/signin"))
        response = client.post(
            "/signin",
            data={"name": name, "password": password, "csrf_token": token, "next": target},
        )
        assert response.headers["location"] == expected


def test_sign_out_ends_the_session(shared_portal: LivePortal) -> None:
    name, _ = shared_portal.user(Role.READ_ONLY)
    client = shared_portal.client()
    shared_portal.sign_in(client, name)
    cookie = client.cookies["iocd_session"]
    token = csrf_of(client.get("/"))
    response = client.post("/signout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    assert "iocd_session" not in client.cookies
    replay = shared_portal.client()
    replay.cookies.set("iocd_session", cookie)
    assert replay.get("/").headers["location"].startswith("/signin")


def test_sessions_expire_when_idle_and_after_seven_days(fresh_portal: LivePortal) -> None:
    name, _ = fresh_portal.user(Role.READ_ONLY)
    client = fresh_portal.client()
    fresh_portal.sign_in(client, name)
    fresh_portal.clock.advance(timedelta(hours=11))
    assert client.get("/").status_code == 200  # use moves the idle deadline
    fresh_portal.clock.advance(timedelta(hours=11))
    assert client.get("/").status_code == 200
    fresh_portal.clock.advance(timedelta(hours=12, seconds=1))
    assert client.get("/").headers["location"] == "/signin?next=%2F"

    fresh_portal.sign_in(client, name)
    for _ in range(15):  # busy every 12 hours, yet the absolute limit (7 days) ends it
        fresh_portal.clock.advance(timedelta(hours=11, minutes=59))
        client.get("/")
    assert client.get("/").headers["location"] == "/signin?next=%2F"


def test_a_disabled_user_is_signed_out(fresh_portal: LivePortal) -> None:
    name, _ = fresh_portal.user(Role.ANALYST)
    client = fresh_portal.client()
    fresh_portal.sign_in(client, name)
    assert client.get("/").status_code == 200
    fresh_portal.instance.accounts.disable_user(name, ADMIN)
    assert client.get("/").status_code == 303
