"""Administration, for global administrators only: users and roles, device groups (rules,
ranks and a preview of which devices a rule set captures), applications (secret shown once,
revoke) and the audit log.

Every page here takes `deps.AdminUser` (others get a 403 page; the navigation shows the Admin
link only to global administrators), and every change is a POST form calling AccountService
with the signed-in principal, which checks the role again.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from iocd.web.deps import AdminUser, redirect
from iocd.web.pages.admin import applications, audit, groups, users

router = APIRouter()


@router.get("/admin")
def admin_home(user: AdminUser) -> Response:
    del user
    return redirect("/admin/users", status_code=303)


router.include_router(users.router)
router.include_router(groups.router)
router.include_router(applications.router)
router.include_router(audit.router)
