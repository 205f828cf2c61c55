"""OAuth2 client-credentials token endpoints, shaped like Microsoft Entra ID's (v2 and v1)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from iocd.api.deps import Iocd
from iocd.services.accounts import Unauthorized

router = APIRouter(tags=["oauth2"])
MAX_FORM_BYTES = 64 * 1024


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """Form fields from the body (and, for GET on v1, the query string); first value wins."""
    fields: dict[str, list[str]] = parse_qs(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return {}
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        for key, values in parse_qs(text, keep_blank_values=True).items():
            fields.setdefault(key, values)
    form = {key: values[0] for key, values in fields.items() if values}
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        client_id, _, secret = pair.partition(":")
        form.setdefault("client_id", unquote(client_id))
        form.setdefault("client_secret", unquote(secret))
    return form


async def _token(request: Request, iocd: Iocd, tenant: str, version: str) -> JSONResponse:
    form = await _form(request)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required")
    try:
        token, expires_in = iocd.accounts.issue_token(tenant, client_id, secret, version)
    except Unauthorized as error:
        return _oauth_error(401, "invalid_client", str(error))
    body: dict[str, Any] = {"token_type": "Bearer", "expires_in": expires_in, "access_token": token}
    if version == "1.0":
        body["resource"] = form.get("resource", "")
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/{tenant}/oauth2/v2.0/token", summary="OAuth2 client credentials (v2.0)")
async def token_v2(tenant: str, request: Request, iocd: Iocd) -> JSONResponse:
    return await _token(request, iocd, tenant, "2.0")


@router.post("/{tenant}/oauth2/token", summary="OAuth2 client credentials (v1.0, with resource)")
async def token_v1(tenant: str, request: Request, iocd: Iocd) -> JSONResponse:
    return await _token(request, iocd, tenant, "1.0")


@router.get("/{tenant}/oauth2/token", summary="OAuth2 client credentials (v1.0, query string)")
async def token_v1_get(tenant: str, request: Request, iocd: Iocd) -> JSONResponse:
    return await _token(request, iocd, tenant, "1.0")
