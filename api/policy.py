"""Who may see and do what: the one policy module every route asks.

The foundation keeps it simple: office scoping on every case and task (a case of another
office is reported as not found, so its existence is not revealed) and role checks on
task work.  Finer rules (health details, four-eyes) grow here, not in the routes.
"""

from __future__ import annotations

from api.auth import Principal
from api.errors import ApiError
from api.schemas import TaskView
from domain.model import Role

REFERRING_ROLES = {Role.CASEWORKER, Role.SUPERVISOR}


def visible_offices(principal: Principal) -> list[str]:
    """Offices whose cases the caller may read.  Admins manage accounts, not cases."""
    return [] if principal.role == Role.ADMIN else principal.offices


def require_case_visible(principal: Principal, case_id: str, office: str | None) -> None:
    if office is None or office not in visible_offices(principal):
        raise ApiError(404, "case_not_found", f"no case {case_id}")


def require_task_visible(principal: Principal, task_id: str, task: TaskView | None) -> TaskView:
    if task is None or task.office not in visible_offices(principal):
        raise ApiError(404, "task_not_found", f"no task {task_id}")
    return task


def require_may_refer(principal: Principal, office: str) -> None:
    if principal.role not in REFERRING_ROLES:
        raise ApiError(403, "forbidden", f"a {principal.role.value} may not refer cases")
    if office not in principal.offices:
        raise ApiError(403, "forbidden", f"you may refer cases only to your offices ({', '.join(principal.offices)})",
                       [{"field": "body.office", "reason": "not one of your offices", "allowed": principal.offices}])


def require_role(principal: Principal, roles: set[Role], what: str) -> None:
    if principal.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise ApiError(403, "forbidden", f"a {principal.role.value} may not {what} (allowed: {allowed})")


def require_may_work(principal: Principal, task: TaskView) -> None:
    if principal.role != Role.SUPERVISOR and principal.role.value != task.role:
        raise ApiError(403, "forbidden", f"task {task.task_id} is worked by a {task.role}, not a {principal.role.value}")
