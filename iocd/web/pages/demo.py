"""Demo data for a first look (global administrators only): `/demo` explains what it loads and
asks for confirmation when indicators exist; POST `/demo` (also the dashboard's "Load demo
data" button, shown on an empty dashboard) loads it through services.demo, as `iocd demo`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.services.demo import DemoSize, load_demo
from iocd.web.deps import AdminUser, instance, redirect, render
from iocd.web.pages.admin.common import Text

router = APIRouter()


@router.get("/demo")
def demo_page(request: Request, user: AdminUser) -> Response:
    del user
    return render(
        request,
        "demo.html",
        nav="dashboard",
        size=DemoSize(),
        existing=instance(request).indicators.active_count(),
    )


@router.post("/demo")
def load(request: Request, user: AdminUser, confirm: Text = "") -> Response:
    services = instance(request)
    existing = services.indicators.active_count()
    if existing and confirm != "yes":
        return redirect(
            "/demo",
            flash=f"iocd already holds {existing:,} active indicators: confirm to add the demo "
            "data set to them.",
            category="warning",
        )
    summary = load_demo(services, user, force=bool(existing))
    return redirect(
        "/", flash="Demo data loaded: " + ", ".join(summary.lines()) + ".", category="success"
    )
