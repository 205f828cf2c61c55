"""The published OpenAPI document says what the API really answers: MDE-shaped errors on /api,
OAuth2-shaped errors on the token endpoints, and no 422 (validation errors are 400 here)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "target"],
            "properties": {
                "code": {"type": "string", "examples": ["InvalidRequestBody"]},
                "message": {"type": "string"},
                "target": {"type": "string"},
            },
        }
    },
}
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
API_ERRORS = {
    "400": "Invalid request (body, value, OData query, batch size, guardrail)",
    "401": "Missing or invalid bearer token",
    "403": "Outside the caller's role or device groups",
    "404": "No such indicator",
    "409": "Conflicts with another indicator",
    "413": "Body too large",
    "415": "Content-Type is not application/json",
    "429": "Rate limit exceeded (see Retry-After)",
}
TOKEN_ERRORS = {"400": "Invalid request or grant type", "401": "Invalid client credentials"}


def _content(reference: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{reference}"}}}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        schemas["OAuthError"] = OAUTH_ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, operations in document.get("paths", {}).items():
            oauth = "/oauth2/" in path
            errors, reference = (TOKEN_ERRORS, "OAuthError") if oauth else (API_ERRORS, "Error")
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if path == "/health":
                    continue
                for status, description in errors.items():
                    responses[status] = {"description": description, "content": _content(reference)}
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
