"""Accessibility basics checked on every page the browser tests visit: every form control has a
label, exactly one h1, images have alt text (SVG images a title or label), the skip link is
the first thing Tab reaches and it shows a visible focus indicator."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

_PROBLEMS = """
() => {
  const problems = [];
  const controls = document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea');
  for (const el of controls) {
    const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!labelled) problems.push(`control without a label: ${el.outerHTML.slice(0, 120)}`);
  }
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 elements (want exactly one)`);
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) problems.push(`img without alt: ${img.outerHTML.slice(0, 120)}`);
  }
  for (const svg of document.querySelectorAll('svg[role=img]')) {
    if (!svg.getAttribute('aria-label') && !svg.getAttribute('aria-labelledby')
        && !svg.querySelector('title')) problems.push('svg image without a title');
  }
  for (const button of document.querySelectorAll('button')) {
    if (!button.textContent.trim() && !button.getAttribute('aria-label'))
      problems.push(`button without a name: ${button.outerHTML.slice(0, 120)}`);
  }
  if (!document.documentElement.getAttribute('lang')) problems.push('html without lang');
  if (!document.title.trim()) problems.push('page without a title');
  return problems;
}
"""

_FOCUS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: null};
  const style = getComputedStyle(el);
  return {
    tag: el.tagName, text: el.textContent.trim(), href: el.getAttribute('href'),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== 'none',
  };
}
"""


_START = """
() => {
  const start = document.createElement('span');
  start.tabIndex = -1;
  document.body.prepend(start);
  start.focus();
}
"""


def check_accessibility(page: Page) -> None:
    """Assert the basics on the page as it is now; keyboard focus is moved to the start of the
    page (as after loading it, before any autofocus) and Tab pressed twice."""
    problems: list[str] = page.evaluate(_PROBLEMS)
    assert not problems, f"{page.url}: " + "; ".join(problems)
    page.evaluate(_START)
    page.keyboard.press("Tab")
    focused: dict[str, Any] = page.evaluate(_FOCUS)
    assert focused["tag"] == "A", f"{page.url}: Tab first reached {focused}"
    assert focused["href"] == "#content", f"{page.url}: the skip link is not first: {focused}"
    assert focused["outline"] or focused["shadow"], f"{page.url}: no visible focus: {focused}"
    page.keyboard.press("Tab")
    page.evaluate(
        "() => { const s = document.body.firstElementChild; if (s.tabIndex === -1) s.remove(); }"
    )
    second: dict[str, Any] = page.evaluate(_FOCUS)
    assert second["outline"] or second["shadow"], f"{page.url}: no visible focus: {second}"
