"""The OpenAPI document and the browsable docs, with every asset served by iocd itself."""

from __future__ import annotations

import re

import httpx

from tests.api.api_support import LiveApi


def test_openapi_document_is_published(api: LiveApi) -> None:
    response = httpx.get(f"{api.base_url}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert "/api/indicators" in document["paths"]
    responses = document["paths"]["/api/indicators"]["get"]["responses"]
    assert "422" not in responses
    assert {"400", "401", "403", "429"} <= set(responses)


def test_docs_page_loads_its_assets_from_iocd_not_a_cdn(api: LiveApi) -> None:
    page = httpx.get(f"{api.base_url}/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by iocd"
        fetched = httpx.get(f"{api.base_url}{asset}")
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 100
