"""Who may see and do what: the one policy module every route asks.

The foundation keeps it simple: office scoping on every case and task (a case of another
office is reported as not found, so its existence is not revealed) and role checks on
task work.  Finer rules (health details, four-eyes) grow here, not in the routes.
"""

from __future__ import annotations

from api.auth import Principal
from api.errors import ApiError
from api.schemas import CaseDetail, EventView, TaskView
from domain.programmes.registry import definition_of, health_event_types, protection_event_types
from domain.model import Role, Stage

REFERRING_ROLES = {Role.CASEWORKER, Role.SUPERVISOR}

# Health details are special-category data: medical officers record them, supervisors
# answer for the case; everyone else sees that an assessment happened, when, its outcome
# and how long it is valid.  An allow-list: a new health field stays hidden by default.
HEALTH_READERS = frozenset({Role.MEDICAL_OFFICER, Role.SUPERVISOR})
HEALTH_SHARED_FIELDS = frozenset({"task_id", "member_id", "outcome", "assessment_date", "clearance_valid_until",
                                  "checked_at", "completed_on"})


# Protection details (``TaskSpec.protection_data``: a victim of trafficking, a minor alone,
# medical needs, in AVRR's vulnerability screening) are for those who work with the person;
# a movement officer sees what the travel needs (``escort_required``) and that a screening
# happened.  An allow-list, like the health one.
PROTECTION_READERS = frozenset({Role.CASEWORKER, Role.MEDICAL_OFFICER, Role.SUPERVISOR})
PROTECTION_SHARED_FIELDS = frozenset({"task_id", "member_id", "screened_on", "escort_required"})


def with_article(role: str) -> str:
    """"a supervisor", "an admin": the role as a refusal names it."""
    return ("an " if role[:1] in "aeiou" else "a ") + role.replace("_", " ")


def visible_offices(principal: Principal) -> list[str]:
    """Offices whose cases the caller may read.  Admins manage accounts, not cases."""
    return [] if principal.role == Role.ADMIN else principal.offices


def may_see_case(principal: Principal, office: str | None) -> bool:
    return office is not None and office in visible_offices(principal)


def require_case_visible(principal: Principal, case_id: str, office: str | None) -> None:
    if not may_see_case(principal, office):
        raise ApiError(404, "case_not_found", f"no case {case_id}")


def require_task_visible(principal: Principal, task_id: str, task: TaskView | None) -> TaskView:
    if task is None or task.office not in visible_offices(principal):
        raise ApiError(404, "task_not_found", f"no task {task_id}")
    return task


def require_may_refer(principal: Principal, office: str) -> None:
    if principal.role not in REFERRING_ROLES:
        raise ApiError(403, "forbidden", f"{with_article(principal.role.value)} may not refer cases")
    if office not in principal.offices:
        raise ApiError(403, "forbidden", f"you may refer cases only to your offices ({', '.join(principal.offices)})",
                       [{"field": "body.office", "reason": "not one of your offices", "allowed": principal.offices}])


def reads_health_details(principal: Principal) -> bool:
    return principal.role in HEALTH_READERS


def reads_protection_details(principal: Principal) -> bool:
    return principal.role in PROTECTION_READERS


def redact_event(event: EventView, principal: Principal) -> tuple[EventView, bool]:
    """The event as this caller may read it, and whether anything was withheld."""
    if event.type in health_event_types() and not reads_health_details(principal):
        shared = HEALTH_SHARED_FIELDS
    elif event.type in protection_event_types() and not reads_protection_details(principal):
        shared = PROTECTION_SHARED_FIELDS
    else:
        return event, False
    shown = {k: v for k, v in event.data.items() if k in shared}
    return event.model_copy(update={"data": shown}), len(shown) < len(event.data)


def redact_events(events: list[EventView], principal: Principal) -> list[tuple[EventView, bool]]:
    """Every event as this caller may read it (``redact_event``), in order; and a supervisor's
    review of a medical outcome (an ``OutcomeReviewed`` in the health stage) keeps its free-text
    reason from those who may not read health details: it is where a supervisor writes why the
    person was not cleared (the decision stays shown)."""
    shown: list[tuple[EventView, bool]] = []
    stage: str | None = None
    screened_at = None  # when the last protection details were recorded (one command's events share it)
    for event in events:
        if event.type == "StageEntered":
            stage = event.data.get("stage", stage)
        if event.type in protection_event_types():
            screened_at = event.occurred_at
        redacted, withheld = redact_event(event, principal)
        if (event.type == "PriorityRaised" and event.occurred_at == screened_at and "reason" in redacted.data
                and not reads_protection_details(principal)):
            # A priority raised by a screening names the vulnerabilities in its reason.
            redacted = redacted.model_copy(update={"data": {k: v for k, v in redacted.data.items() if k != "reason"}})
            withheld = True
        if event.type == "CaseSplitFrom" and not reads_health_details(principal):
            # The moved members' records as the original held them (health, follow-up, the
            # programme's per-member needs): what the case page shows to all is on the case.
            redacted = redacted.model_copy(update={"data": {k: v for k, v in redacted.data.items()
                                                            if k not in ("progress", "programme_data")}})
            withheld = True
        if (event.type == "OutcomeReviewed" and stage == Stage.HEALTH.value and "reason" in redacted.data
                and not reads_health_details(principal)):
            redacted = redacted.model_copy(update={"data": {k: v for k, v in redacted.data.items() if k != "reason"}})
            withheld = True
        shown.append((redacted, withheld))
    return shown


def redact_case(case: CaseDetail, principal: Principal) -> CaseDetail:
    """Members' medical follow-up flags are health details too; the programme's protection
    details (``ProgrammeDefinition.protected_data_keys``) are kept from those who may not read them."""
    update: dict[str, object] = {}
    if not reads_health_details(principal):
        update["members"] = [m.model_copy(update={"follow_up_needed": None}) for m in case.members]
    try:
        protected = definition_of(case.programme).protected_data_keys
    except ValueError:  # a programme no longer registered keeps nothing back it never declared
        protected = frozenset()
    if not reads_protection_details(principal) and protected & case.programme_data.keys():
        update["programme_data"] = {k: v for k, v in case.programme_data.items() if k not in protected}
    return case.model_copy(update=update) if update else case


# Who may take each case-level action (on a case of their offices).
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "withdraw": frozenset({Role.CASEWORKER, Role.SUPERVISOR}),
    "withdraw_consent": frozenset({Role.CASEWORKER, Role.SUPERVISOR}),  # AVRR: recording the migrant's decision
    "hold": frozenset({Role.SUPERVISOR}),
    "resume": frozenset({Role.SUPERVISOR}),
    "note": frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.MEDICAL_OFFICER, Role.MOVEMENT_OFFICER}),
    "correct_member": frozenset({Role.CASEWORKER, Role.SUPERVISOR}),
    "reassign": frozenset({Role.SUPERVISOR}),
    "cancel_booking": frozenset({Role.MOVEMENT_OFFICER, Role.SUPERVISOR}),  # a group movement cancelled
    "split": frozenset({Role.CASEWORKER, Role.SUPERVISOR}),  # part of a family into a case of its own
}


def may_act(principal: Principal, kind: str) -> bool:
    return principal.role in ACTION_ROLES[kind]


def require_role(principal: Principal, roles: set[Role], what: str) -> None:
    if principal.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise ApiError(403, "forbidden", f"{with_article(principal.role.value)} may not {what} (allowed: {allowed})")


def require_may_work(principal: Principal, task: TaskView) -> None:
    if principal.role != Role.SUPERVISOR and principal.role.value != task.role:
        raise ApiError(403, "forbidden", f"task {task.task_id} is worked by a {task.role}, not a {principal.role.value}")
