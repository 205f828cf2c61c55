"""The published OpenAPI document says what the API really answers: MDE-shaped errors on /api,
OAuth2-shaped errors on the token endpoints, and no 422 (validation errors are 400 here)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

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


ASSETS = "/static/swagger-ui"


def install(app: FastAPI) -> None:
    """Publish /openapi.json and a browsable /docs whose assets iocd serves itself (no CDN)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # No validator badge: it would be fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

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
