"""The Indicators area in a real browser: the add pane for every type (a certificate by .pem
upload), a guardrail refusal and its override, import with good and bad rows, export and
re-import, an analyst's scope, and deleting a selection. Each page is checked for accessibility
basics and saved as a screenshot in test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Role
from iocd.domain.types import Action, IndicatorType
from tests.api.api_support import ADMIN, unique
from tests.e2e.a11y import check_accessibility
from tests.e2e.certificates import self_signed_pem
from tests.e2e.conftest import Screenshot, SignIn
from tests.factories import make_fields, value_for
from tests.web.portal_support import LivePortal

BASE = 8_100_000


def _seed(portal: LivePortal, n: int, **fields: Any) -> int:
    kind = fields.pop("indicator_type", IndicatorType.FILE_SHA256)
    draft = IndicatorDraft(make_fields(BASE + n, kind, **fields))
    saved = portal.instance.indicators.submit(draft, ADMIN.via("Portal")).indicator
    assert saved is not None
    return saved.id


def _add_through_the_pane(
    page: Any, base_url: str, kind: str, value: str | None, action: str, title: str, **kw: Any
) -> None:
    page.goto(f"{base_url}/indicators/new")
    page.get_by_label("Type", exact=True).select_option(kind)
    if kw.get("certificate"):
        page.get_by_label("Or a certificate file (.cer or .pem)").set_input_files(
            {
                "name": "signer.pem",
                "mimeType": "application/x-pem-file",
                "buffer": kw["certificate"],
            }
        )
    if value is not None:
        page.get_by_label("Value", exact=True).fill(value)
        expect(page.locator("#value-check")).to_contain_text(kw.get("canonical", "Stored as"))
    if kw.get("screenshot"):
        kw["screenshot"](page, "indicator-add-pane")
        check_accessibility(page)
    page.get_by_role("button", name="Next").first.click()
    page.get_by_label("Action", exact=True).select_option(action)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Severity").select_option("High")
    page.locator("fieldset[data-step='2']").get_by_role("button", name="Next").click()
    page.locator("fieldset[data-step='3']").get_by_role("button", name="Next").click()
    page.locator("fieldset[data-step='4']").get_by_role("button", name="Next").click()
    expect(page.locator("[data-summary=title]")).to_have_text(title)
    page.get_by_role("button", name="Save indicator").click()


def test_add_an_indicator_of_each_type_through_the_pane(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    sign_in(page, "admin")
    sha256 = value_for(IndicatorType.FILE_SHA256, BASE + 1)
    cases = [
        ("FileSha256", sha256.upper(), sha256),
        ("FileSha1", value_for(IndicatorType.FILE_SHA1, BASE + 2), None),
        ("FileMd5", value_for(IndicatorType.FILE_MD5, BASE + 3), None),
        ("IpAddress", "198.51.100.0/24", "198.51.100.0/24"),
        ("IpAddress", "203.0.113.44/32", "203.0.113.44"),
        ("DomainName", "Pane-Test.EXAMPLE", "pane-test.example"),
        ("Url", "HTTPS://pane.example:443/a/./b#frag", "https://pane.example/a/b"),
    ]
    for n, (kind, value, canonical) in enumerate(cases):
        _add_through_the_pane(
            page,
            portal.base_url,
            kind,
            value,
            "Audit" if kind == "Url" else "Block",
            f"Pane {kind} {n}",
            canonical=canonical or value.lower(),
            screenshot=screenshot if n == 0 else None,
        )
        expect(page.get_by_role("heading", level=1)).to_contain_text(canonical or value.lower())
        expect(page.get_by_role("status")).to_contain_text("created")
    pem, thumbprint = self_signed_pem("pane-signer.example")
    _add_through_the_pane(
        page, portal.base_url, "CertificateThumbprint", None, "Block", "Bad signer", certificate=pem
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(thumbprint)
    expect(page.locator("main")).to_contain_text("Certificate (CertificateThumbprint)")
    screenshot(page, "indicator-history")
    check_accessibility(page)

    page.goto(f"{portal.base_url}/indicators?q=Pane")
    expect(page.locator("table.indicators tbody tr")).to_have_count(len(cases))
    page.get_by_role("link", name="URLs and domains").click()
    expect(page.locator("table.indicators tbody tr")).to_have_count(2)
    page.get_by_role("link", name="All", exact=True).click()
    screenshot(page, "indicators-list")
    check_accessibility(page)


def test_a_guardrail_refusal_then_an_override(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    sign_in(page, "admin")
    _add_through_the_pane(page, portal.base_url, "IpAddress", "8.8.8.8", "Block", "Resolver")
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Refused by a guardrail")
    screenshot(page, "indicator-guardrail-refusal")
    check_accessibility(page)
    page.get_by_label("Store it anyway (override the guardrail)").check()
    page.get_by_role("button", name="Save indicator").click()
    expect(page.get_by_role("alert")).to_contain_text("needs a justification")
    page.get_by_label("Store it anyway (override the guardrail)").check()
    page.get_by_label("Justification").fill("Lab network test, approved in change 42")
    page.get_by_role("button", name="Save indicator").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("8.8.8.8")
    expect(page.locator("main")).to_contain_text("Lab network test, approved in change 42")


def _import(page: Any, base_url: str, name: str, data: bytes) -> None:
    page.goto(f"{base_url}/indicators/import")
    page.get_by_label("File", exact=True).set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import results")
    expect(page.locator("#import-status")).not_to_contain_text("The import stopped")


def test_import_export_and_reimport(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot, tmp_path: Path
) -> None:
    sign_in(page, "admin")
    tag = unique("imp")
    good = [value_for(IndicatorType.FILE_SHA256, BASE + 100 + n) for n in range(3)]
    csv_text = (
        "IndicatorType,IndicatorValue,Action,Title,Description,GenerateAlert\n"
        f"FileSha256,{good[0]},Block,{tag} a,first,false\n"
        "FileSha256,not-a-hash,Block,bad,bad hash,false\n"
        f"FileSha256,{good[1]},Audit,{tag} b,second,true\n"
        f"IpAddress,203.0.113.250,BlockAndRemediate,{tag} c,wrong action,false\n"
        f"FileSha256,{good[2]},Allowed,{tag} d,third,false\n"
    )
    page.goto(f"{portal.base_url}/indicators/import")
    expect(page.get_by_role("link", name="download the sample CSV")).to_have_attribute(
        "href", "/indicators/template.csv"
    )
    check_accessibility(page)
    _import(page, portal.base_url, "mixed.csv", csv_text.encode())
    expect(page.locator("#import-summary")).to_contain_text("5 rows")
    rows = page.locator("#import-results tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(0)).to_contain_text("Failed")
    expect(rows.nth(0)).to_contain_text("IndicatorValue")
    expect(rows.nth(1)).to_contain_text("5")
    expect(rows.nth(1)).to_contain_text("not allowed for indicator type IpAddress")
    expect(rows.nth(2)).to_contain_text("Imported")
    screenshot(page, "indicator-import-results")
    check_accessibility(page)

    page.goto(f"{portal.base_url}/indicators?q={tag}")
    expect(page.locator("table.indicators tbody tr")).to_have_count(3)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = tmp_path / "export.csv"
    download.value.save_as(exported)
    assert len(exported.read_text().splitlines()) == 4
    _import(page, portal.base_url, "export.csv", exported.read_bytes())
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("3 rows")
    expect(summary).to_contain_text("0 failed")
    expect(page.locator("#import-results tbody tr.result-failed")).to_have_count(0)
    expect(page.locator("#import-results tbody tr.result-unchanged")).to_have_count(3)


def test_import_a_stix_bundle_with_its_options(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    sign_in(page, "admin")
    tag = unique("stix")
    good = value_for(IndicatorType.FILE_SHA256, BASE + 300)
    patterns = [
        f"[file:hashes.'SHA-256' = '{good}']",
        "[file:hashes.'SHA-256' = 'not-a-hash']",
        "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']",
    ]
    objects = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-00000000000{n}",
            "name": f"{tag} {n}",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
        }
        for n, pattern in enumerate(patterns)
    ]
    bundle = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000"}
    data = json.dumps({**bundle, "objects": objects}).encode()
    page.goto(f"{portal.base_url}/indicators/import")
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "bundle.json", "mimeType": "application/json", "buffer": data}
    )
    page.get_by_label("STIX 2.1 bundle").check()
    page.get_by_label("Action").select_option("Block")
    page.get_by_label("Severity").select_option("High")
    page.get_by_label("Expires").fill("30d")
    check_accessibility(page)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import results")
    expect(page.locator("#import-status")).not_to_contain_text("The import stopped")
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("1 imported")
    expect(summary).to_contain_text("1 failed")
    expect(summary).to_contain_text("1 skipped")
    expect(page.get_by_role("columnheader", name="Item")).to_be_visible()
    rows = page.locator("#import-results tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Failed")
    expect(rows.nth(0)).to_contain_text("2")
    expect(rows.nth(1)).to_contain_text("Skipped")
    expect(rows.nth(1)).to_contain_text("AND")
    expect(rows.nth(2)).to_contain_text("Imported")
    expect(rows.nth(2)).to_contain_text(good)
    screenshot(page, "indicator-import-stix-results")
    check_accessibility(page)
    page.goto(f"{portal.base_url}/indicators?q={tag}")
    expect(page.locator("table.indicators tbody tr")).to_have_count(1)
    expect(page.locator("table.indicators tbody tr")).to_contain_text("Block")


def test_an_analyst_cannot_see_another_groups_indicators(
    portal: LivePortal, browser: Any, sign_in: SignIn
) -> None:
    group_a, group_b = portal.group(), portal.group()
    hidden = _seed(
        portal,
        200,
        action=Action.AUDIT,
        generate_alert=True,
        title="scoped B",
        rbac_group_names=(group_b,),
    )
    shown = _seed(
        portal,
        201,
        action=Action.AUDIT,
        generate_alert=True,
        title="scoped A",
        rbac_group_names=(group_a,),
    )
    analyst, _ = portal.user(Role.ANALYST, groups=(group_a,))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, analyst)
        page.goto(f"{portal.base_url}/indicators?q=scoped")
        ids = page.locator("table.indicators tbody td.num a").all_inner_texts()
        assert str(shown) in ids and str(hidden) not in ids
        page.goto(f"{portal.base_url}/indicators/{hidden}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        page.goto(f"{portal.base_url}/indicators/new")
        expect(page.get_by_label("All devices")).to_have_count(0)
        expect(page.get_by_label(group_a)).to_have_count(1)
        expect(page.get_by_label(group_b)).to_have_count(0)
        check_accessibility(page)
    finally:
        context.close()


def test_delete_a_selection(portal: LivePortal, page: Any, sign_in: SignIn) -> None:
    tag = unique("del")
    ids = [
        _seed(portal, 300 + n, indicator_type=IndicatorType.FILE_MD5, title=f"{tag} {n}")
        for n in range(3)
    ]
    sign_in(page, "admin")
    page.goto(f"{portal.base_url}/indicators?q={tag}")
    page.get_by_label(f"Select indicator {ids[0]}").check()
    page.get_by_label(f"Select indicator {ids[2]}").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete 2 indicators?")
    check_accessibility(page)
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("2 indicators deleted")
    rows = page.locator("table.indicators tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(str(ids[1]))
    expect(page).to_have_url(re.compile(rf"q={tag}"))
