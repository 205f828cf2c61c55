"""Signing in and out, and the first run (creating the first global administrator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from iocd.errors import Conflict, InvalidInput
from iocd.services.sessions import SignInRefused, TooManyAttempts
from iocd.web.csrf import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from iocd.web.deps import (
    client_address,
    instance,
    optional_principal,
    redirect,
    render,
    safe_next,
)

router = APIRouter()
Text = Annotated[str, Form(max_length=4096)]


def _signed_in(request: Request, token: str, to: str, message: str) -> Response:
    response = redirect(to, flash=message, category="success")
    seconds = int(instance(request).sessions.lifetime.absolute.total_seconds())
    set_session_cookie(request, response, token, seconds)
    return response


@router.get("/signin")
def signin_page(request: Request, next: str = "/") -> Response:
    if instance(request).sessions.needs_setup():
        return redirect("/setup")
    if optional_principal(request) is not None:
        return redirect(safe_next(next))
    return render(request, "auth/signin.html", next=safe_next(next), name="", error=None)


@router.post("/signin")
def signin(request: Request, name: Text = "", password: Text = "", next: Text = "/") -> Response:
    sessions = instance(request).sessions
    try:
        signed = sessions.sign_in(name, password, client_address(request))
    except TooManyAttempts as error:
        return render(
            request,
            "auth/signin.html",
            status_code=429,
            headers={"Retry-After": str(error.retry_after)},
            next=safe_next(next),
            name=name,
            error=str(error),
        )
    except SignInRefused as error:
        return render(
            request,
            "auth/signin.html",
            status_code=401,
            next=safe_next(next),
            name=name,
            error=str(error),
        )
    welcome = f"Signed in as {signed.principal.label}."
    return _signed_in(request, signed.token, safe_next(next), welcome)


@router.post("/signout")
def signout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        instance(request).sessions.sign_out(token)
    response = redirect("/signin", flash="You are signed out.", category="info")
    clear_session_cookie(request, response)
    return response


@router.get("/setup")
def setup_page(request: Request) -> Response:
    if not instance(request).sessions.needs_setup():
        if optional_principal(request) is not None:
            return redirect("/")
        return redirect("/signin", flash="iocd is set up already: sign in.")
    return render(request, "auth/setup.html", form={}, error=None)


@router.post("/setup")
def setup(
    request: Request,
    name: Text = "",
    display_name: Text = "",
    password: Text = "",
    confirmation: Text = "",
) -> Response:
    sessions = instance(request).sessions
    try:
        signed = sessions.set_up(
            name, display_name, password, confirmation, client_address(request)
        )
    except Conflict:
        return redirect("/signin", flash="iocd is set up already: sign in.", category="warning")
    except InvalidInput as error:
        form = {"name": name, "display_name": display_name}
        message = f"{_LABELS.get(error.field, error.field)}: {error.reason}"
        return render(request, "auth/setup.html", status_code=400, form=form, error=message)
    welcome = f"Welcome, {signed.principal.label}: you are the global administrator."
    return _signed_in(request, signed.token, "/", welcome)


_LABELS = {
    "name": "User name",
    "password": "Password",
    "confirmation": "Password again",
}
