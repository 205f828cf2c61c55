"""The Indicators area of the portal (SPEC section 1; issue 5 points 2 to 5).

- `listing`: the table at `/indicators` (tabs per type group, filters, sorting, keyset paging,
  selection and "Delete selected"), and `/indicators/export.csv` (the current filter, streamed);
- `editing`: the add/edit pane (`/indicators/new`, `/indicators/{id}/edit`), its live value
  check (`/indicators/validate`), the history view (`/indicators/{id}`) and deleting one;
- `importing` (+ `jobs`): `/indicators/import` with progress and per-row results, and the
  sample CSV at `/indicators/template.csv`;
- `filters` and `form`: the query string and the pane's form, read into domain objects.

Every call passes the signed-in principal to IndicatorService, so roles and device-group scopes
are exactly the API's.
"""

from __future__ import annotations

from fastapi import APIRouter

from iocd.web.pages.indicators import editing, importing, listing

router = APIRouter()
router.include_router(listing.router)
router.include_router(importing.router)
router.include_router(editing.router)
