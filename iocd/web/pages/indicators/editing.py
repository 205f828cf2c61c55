"""Add, edit and delete one indicator, the live value check, and the history view.

- `/indicators/new` (GET, with optional prefill `?type=&value=&action=&title=`; POST saves);
- `/indicators/validate?type=&value=`: JSON {type, canonical, error, homograph} for the pane;
- `/indicators/{id}` details, sightings and history; `/indicators/{id}/edit`;
  `/indicators/{id}/delete` (GET: the confirmation step, POST: delete).

A guardrail refusal shows the pane again with the reason and an override box; resubmitting with
the box checked and a justification sends `override_justification` to the service.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import GuardrailRefused, InvalidInput
from iocd.services.submission import Outcome
from iocd.web.deps import CurrentUser, instance, redirect, render
from iocd.web.pages.indicators.form import IndicatorForm, check_value, problem_text
from iocd.web.pages.indicators.labels import TYPE_LABELS, can_write

router = APIRouter()
OUTCOME_TEXT = {
    Outcome.CREATED: "created",
    Outcome.UPDATED: "updated",
    Outcome.UNCHANGED: "saved (nothing changed)",
}


def allowed_groups(request: Request, user: Principal) -> list[str]:
    """Device groups this user may scope an indicator to."""
    if user.role is Role.ANALYST:
        return sorted(user.device_groups)
    return [g.name for g in instance(request).accounts.list_groups(user)]


def _pane(
    request: Request,
    user: Principal,
    form: IndicatorForm,
    *,
    status_code: int = 200,
    error: str | None = None,
    refusal: str | None = None,
) -> Response:
    editing = form.target_id is not None
    return render(
        request,
        "indicators/form.html",
        status_code=status_code,
        nav="indicators",
        title=f"Edit indicator {form.target_id}" if editing else "Add an indicator",
        form=form,
        checked=form.checked(),
        editing=editing,
        action_url=f"/indicators/{form.target_id}/edit" if editing else "/indicators/new",
        groups=allowed_groups(request, user),
        all_devices_allowed=user.role is not Role.ANALYST,
        types=list(IndicatorType),
        type_labels=TYPE_LABELS,
        actions=list(Action),
        severities=list(Severity),
        error=error,
        refusal=refusal,
        can_write=can_write(user),
    )


def _groups_of(form: FormData, user: Principal) -> tuple[str, ...]:
    """The chosen device groups; () is all devices (never for analysts: the service refuses)."""
    if form.get("scope") == "all" and user.role is not Role.ANALYST:
        return ()
    return tuple(str(g) for g in form.getlist("groups") if str(g).strip())


async def _save(request: Request, user: Principal, target_id: int | None) -> Response:
    raw = await request.form()
    try:
        return _submit(request, user, target_id, raw)
    finally:
        await raw.close()  # the uploaded certificate's temporary file


def _submit(request: Request, user: Principal, target_id: int | None, raw: FormData) -> Response:
    try:
        form = IndicatorForm.from_form(raw, _groups_of(raw, user))
    except InvalidInput as error:
        blank = IndicatorForm(target_id=target_id)
        return _pane(request, user, blank, status_code=400, error=problem_text(error))
    if target_id is not None:
        form = replace(form, target_id=target_id)
    if raw.get("scope") == "groups" and not form.groups:
        message = "Device groups: check at least one, or choose All devices"
        return _pane(request, user, form, status_code=400, error=message)
    try:
        result = instance(request).indicators.submit(form.draft(), user)
    except GuardrailRefused as refused:
        return _pane(request, user, form, status_code=400, refusal=refused.reason)
    except InvalidInput as error:
        return _pane(request, user, form, status_code=400, error=problem_text(error))
    saved = result.indicator
    assert saved is not None
    message = f"Indicator {saved.id} {OUTCOME_TEXT.get(result.outcome, 'saved')}."
    return redirect(f"/indicators/{saved.id}", flash=message, category="success")


@router.get("/indicators/validate")
def validate(user: CurrentUser, type: str = "", value: str = "") -> JSONResponse:
    """The pane's live check of one value: canonical form, error, homograph notice."""
    return JSONResponse(check_value(type, value[:8192]).as_json())


@router.get("/indicators/new")
def new_page(request: Request, user: CurrentUser) -> Response:
    return _pane(request, user, IndicatorForm.from_query(request.query_params))


@router.post("/indicators/new")
async def create(request: Request, user: CurrentUser) -> Response:
    return await _save(request, user, None)


@router.get("/indicators/{indicator_id:int}/edit")
def edit_page(request: Request, user: CurrentUser, indicator_id: int) -> Response:
    indicator = instance(request).indicators.get(indicator_id, user)
    return _pane(request, user, IndicatorForm.from_indicator(indicator))


@router.post("/indicators/{indicator_id:int}/edit")
async def edit(request: Request, user: CurrentUser, indicator_id: int) -> Response:
    instance(request).indicators.get(indicator_id, user)  # 403/404 before reading the form
    return await _save(request, user, indicator_id)


@router.get("/indicators/{indicator_id:int}")
def details(request: Request, user: CurrentUser, indicator_id: int) -> Response:
    iocd = instance(request)
    indicator = iocd.indicators.get(indicator_id, user)
    history = iocd.indicators.history(indicator_id, user)
    sightings = iocd.alerts.sightings_for([indicator_id]).get(indicator_id)
    return render(
        request,
        "indicators/detail.html",
        nav="indicators",
        title=f"Indicator {indicator_id}",
        i=indicator,
        f=indicator.fields,
        history=list(reversed(history)),
        sightings=sightings,
        type_labels=TYPE_LABELS,
        can_write=can_write(user) and indicator.state.value == "active",
    )


@router.get("/indicators/{indicator_id:int}/delete")
def delete_page(request: Request, user: CurrentUser, indicator_id: int) -> Response:
    indicator = instance(request).indicators.get(indicator_id, user)
    return render(
        request,
        "indicators/confirm_delete.html",
        nav="indicators",
        title="Delete indicators",
        rows=[indicator],
        type_labels=TYPE_LABELS,
        back=f"/indicators/{indicator_id}",
        after="/indicators",
    )


@router.post("/indicators/{indicator_id:int}/delete")
def delete(request: Request, user: CurrentUser, indicator_id: int) -> Response:
    instance(request).indicators.delete(indicator_id, user)
    return redirect("/indicators", flash=f"Indicator {indicator_id} deleted.", category="success")
