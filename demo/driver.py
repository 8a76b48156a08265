"""The demo's way of working cases: the demo accounts (demo/users.py) fill in the example
form of each task.  ``demo_client`` is the API client (``case_client.CaseClient``) that
seeds the demo data of ``itinera dev``; the benchmark fills in the same example forms.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from case_client import CaseClient
from demo.users import DEMO_PASSWORD, demo_worker_for
from domain.tasks import TaskType
from domain.offices import DEFAULT_TIME_ZONE, local_date


def demo_client(client: httpx.AsyncClient) -> CaseClient:
    """Works cases through ``client`` as the demo accounts, with the example forms."""
    return CaseClient(client, password=DEMO_PASSWORD, worker_for=demo_worker_for, form_for=example_form)


def _moment(today: date) -> datetime:
    """When a form for ``today`` says something happened: a minute ago when that is today (at
    midnight a fit-to-travel check was up to 24 hours old, and a flight 72 hours after that
    midnight refused it late in the day), or when ``today`` is the office's and already
    tomorrow in UTC (21:00 UTC is the next day in Istanbul: that day's first minutes are still
    ahead, and an instant that happened is not in the future); else the day's first five
    minutes in UTC, which a clock on that day (a test's time-skipping one) is never more than
    the allowed clock skew behind (``forms.CLOCK_SKEW``)."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    if today - timedelta(days=1) <= now.date() <= today:
        return now
    return datetime.combine(today, datetime.min.time(), UTC) + timedelta(minutes=5)


def example_form(task: dict[str, Any], today: date, *, follow_up: bool = False,
                 case: dict[str, Any] | None = None) -> dict[str, Any]:
    """Realistic form data for a task, dated relative to ``today``.  ``case`` (the API's case
    detail), when given, lets a form refer to the case (e.g. the next undelivered plan item, the
    airport of the country a booking flies to)."""
    form = _example_form(task, today, follow_up=follow_up, case=case)
    if TaskType(task["task_type"]) == TaskType.BOOK_MOVEMENT and case is not None:
        form = _flying_to(form, case)
    return form


def _flying_to(form: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """A booking lands in the country the case travels to (its destination; AVRR: its country
    of return), as the API requires; the example's airport where that is already so."""
    from api.airports import an_airport_in, country_of

    country = case.get("destination_country") or case.get("origin_country")
    if not country or country_of(form["arrival_airport"]) in (country, None):
        return form
    airport = an_airport_in(country)
    return {**form, "arrival_airport": airport} if airport else form


def _example_form(task: dict[str, Any], today: date, *, follow_up: bool = False,
                  case: dict[str, Any] | None = None) -> dict[str, Any]:
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    task_type = TaskType(task["task_type"])
    if task.get("programme") == "family_reunification" or task_type in _FAMILY_EXAMPLES:
        form = family_example(task_type, task, day)
        if form is not None:
            return form
    if task.get("programme") == "avrr" or task_type in _AVRR_EXAMPLES:
        form = _avrr_example(task_type, task, day, case)
        if form is not None:
            return form
    if task_type == TaskType.VERIFY_REFERRAL:
        return {"documents_checked": True, "notes": "Identity documents of all members checked against the referral."}
    if task_type == TaskType.CONDUCT_INTERVIEW:
        return {"interview_date": day(0), "outcome": "accepted", "interpreter_language": "ar"}
    if task_type == TaskType.ASSESS_HEALTH:
        return {"assessment_date": day(0), "outcome": "cleared", "clearance_valid_until": day(180),
                "tb_classification": "none", "follow_up_needed": follow_up}
    if task_type == TaskType.RECORD_ORIENTATION:
        return {"session_date": day(0), "language": "ar"}
    if task_type == TaskType.RECORD_VISA:
        return {"outcome": "issued", "visa_number": f"V-{task['task_id'][-12:]}", "issued_on": day(0),
                "valid_until": day(90)}
    if task_type == TaskType.BOOK_MOVEMENT:
        return {"flight_number": "TK1751", "departure_at": f"{day(1)}T12:00:00+00:00",
                "departure_airport": "IST", "arrival_airport": "OSL"}
    if task_type == TaskType.CHECK_FIT_TO_TRAVEL:
        # A minute before the departure's moment: before the flight, and not before the case
        # was referred (a moment of its journey is judged against the referral, within the
        # clock skew; a case referred seconds ago would refuse one five minutes older).
        return {"checked_at": (_moment(today) - timedelta(minutes=1)).isoformat(), "outcome": "fit"}
    if task_type == TaskType.RECORD_HOST_EXIT_PERMISSION:  # the host state's (Türkiye: DGMM), where required
        return {"reference": f"DGMM-{task['task_id'][-12:]}", "issued_on": day(0), "valid_until": day(90),
                "issuing_authority": "DGMM, Provincial Directorate of Migration Management"}
    if task_type == TaskType.RECORD_DEPARTURE:
        return {"outcome": "departed", "departed_at": _moment(today).isoformat()}
    if task_type == TaskType.RECORD_TREATMENT:
        return {"completed_on": day(0), "notes": "Treatment course completed."}
    if task_type == TaskType.REVIEW_OUTCOME:
        return {"decision": "close", "reason": "No further option for this case."}
    if task_type == TaskType.RESOLVE_ESCALATION:
        return {"action_taken": "Followed up with the team."}
    if task_type == TaskType.CONFIRM_ARRIVAL:
        return {"arrived_on": day(0), "place": "Oslo", "receiving_partner": "Oslo municipality"}
    raise ValueError(f"no example form for {task_type}")


_AVRR_EXAMPLES = {
    TaskType.RECORD_COUNSELLING, TaskType.RECORD_CONSENT, TaskType.ASSESS_ELIGIBILITY, TaskType.SCREEN_VULNERABILITY,
    TaskType.ASSESS_FIT_TO_TRAVEL, TaskType.RECORD_PREDEPARTURE_COUNSELLING, TaskType.RECORD_TRAVEL_DOCUMENT,
    TaskType.RECORD_EXIT_PERMISSION, TaskType.ARRANGE_ESCORT, TaskType.RECONFIRM_CONSENT,
    TaskType.RECORD_REINTEGRATION_PLAN, TaskType.RECORD_ASSISTANCE_DELIVERY, TaskType.RECORD_MONITORING_VISIT,
    TaskType.CLOSE_REINTEGRATION,
}


def _avrr_example(task_type: TaskType, task: dict[str, Any], day: Any, case: dict[str, Any] | None) -> dict[str, Any] | None:
    """AVRR's forms, and AVRR's version of the shared ones (a return to Erbil); None: as resettlement."""
    ref = task["task_id"][-12:]
    if task_type == TaskType.RECORD_COUNSELLING:
        return {"session_date": day(0), "language": "ar", "options_explained": True,
                "notes": "Return package, reintegration support and the right to withdraw consent explained."}
    if task_type == TaskType.RECORD_CONSENT:
        return {"given_by": "Principal applicant, for the family", "given_on": day(0), "language": "ar",
                "signed_form_reference": f"AVRR-{ref}"}
    if task_type == TaskType.ASSESS_ELIGIBILITY:
        return {"assessed_on": day(0), "outcome": "eligible"}
    if task_type == TaskType.SCREEN_VULNERABILITY:
        return {"screened_on": day(0)}
    if task_type == TaskType.ASSESS_FIT_TO_TRAVEL:
        return {"assessment_date": day(0), "outcome": "fit"}
    if task_type == TaskType.RECORD_PREDEPARTURE_COUNSELLING:
        return {"session_date": day(0), "language": "ar", "reintegration_support_explained": True}
    if task_type == TaskType.RECORD_TRAVEL_DOCUMENT:
        return {"outcome": "issued", "document_type": "laissez_passer", "document_number": f"LP-{ref}",
                "issuing_consulate": "Consulate General of Iraq, Istanbul", "issued_on": day(0), "valid_until": day(90)}
    if task_type == TaskType.RECORD_EXIT_PERMISSION:
        return {"outcome": "granted", "authority": "Provincial Directorate of Migration Management",
                "reference": f"PMM-{ref}", "decided_on": day(0)}
    if task_type == TaskType.ARRANGE_ESCORT:
        return {"escort_type": "operational", "escort_name": "Elif Arslan", "organisation": "IOM Türkiye"}
    if task_type == TaskType.RECONFIRM_CONSENT:
        return {"reconfirmed_on": day(0), "language": "ar", "consent_reconfirmed": True}
    if task_type == TaskType.RECORD_REINTEGRATION_PLAN:
        return {"agreed_on": day(0), "partner": "IOM Iraq, Erbil", "items": [
            {"kind": "economic", "description": "Small business grant: grocery shop", "amount": "2000.00",
             "currency": "USD"},
            {"kind": "psychosocial", "description": "Six counselling sessions"}]}
    if task_type == TaskType.RECORD_ASSISTANCE_DELIVERY:
        plan = ((case or {}).get("avrr") or {}).get("reintegration_plan") or []
        number = next((i["item_number"] for i in plan if i["delivered_on"] is None), 1)
        return {"item_number": number, "delivered_on": day(0)}
    if task_type == TaskType.RECORD_MONITORING_VISIT:
        return {"visited_on": day(0), "method": "in_person", "reintegration_score": 0.6}
    if task_type == TaskType.CLOSE_REINTEGRATION:
        return {"decision": "close", "reason": "Every item of the plan delivered."}
    if task_type == TaskType.BOOK_MOVEMENT:
        return {"flight_number": "TK1102", "departure_at": f"{day(1)}T12:00:00+00:00",
                "departure_airport": "IST", "arrival_airport": "EBL"}
    if task_type == TaskType.CONFIRM_ARRIVAL:
        return {"arrived_on": day(0), "place": "Erbil", "receiving_partner": "IOM Iraq, Erbil"}
    return None


_FAMILY_EXAMPLES = {
    TaskType.ASSESS_RELATIONSHIP, TaskType.RECORD_DOCUMENTS, TaskType.COMPLETE_DOCUMENTS,
    TaskType.BOOK_EMBASSY_APPOINTMENT, TaskType.RECORD_APPOINTMENT_OUTCOME, TaskType.RECORD_FAMILY_VISA,
    TaskType.REVIEW_AGE_OUT,
}


def family_example(task_type: TaskType, task: dict[str, Any], day: Any) -> dict[str, Any] | None:
    """Family reunification's forms, and its version of the shared ones (a family joining a
    sponsor in Berlin); None: as resettlement.  The embassy appointment is booked for a few
    minutes from now, so that its outcome can be recorded today."""
    ref = task["task_id"][-12:]
    if task_type == TaskType.ASSESS_RELATIONSHIP:
        return {"assessed_on": day(0), "outcome": "eligible", "evidence": "Family book and civil registry extract"}
    if task_type in (TaskType.RECORD_DOCUMENTS, TaskType.COMPLETE_DOCUMENTS):
        return {"received_on": day(0), "passport": True, "civil_documents": True, "proof_of_relationship": True}
    if task_type == TaskType.BOOK_EMBASSY_APPOINTMENT:
        return {"appointment_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds"),
                "place": "German Embassy Beirut", "reference": f"DE-BEY-{ref}"}
    if task_type == TaskType.RECORD_APPOINTMENT_OUTCOME:
        # The appointment (a few minutes from now) falls on the office's day, which after 21:00
        # UTC is already tomorrow in Istanbul: attended that day, as the case judges it.
        attended = local_date(datetime.now(UTC), task.get("office_time_zone") or DEFAULT_TIME_ZONE)
        return {"outcome": "attended", "attended_on": attended.isoformat()}
    if task_type == TaskType.RECORD_FAMILY_VISA:
        return {"outcome": "issued", "visa_number": f"DE-D-{ref}", "issued_on": day(0), "valid_until": day(90)}
    if task_type == TaskType.REVIEW_AGE_OUT:
        return {"decision": "keep", "reason": "The application was lodged while the child was a minor."}
    if task_type == TaskType.BOOK_MOVEMENT:
        return {"flight_number": "TK1723", "departure_at": f"{day(1)}T12:00:00+00:00",
                "departure_airport": "IST", "arrival_airport": "BER"}
    if task_type == TaskType.CONFIRM_ARRIVAL:
        return {"arrived_on": day(0), "place": "Berlin", "receiving_partner": "The sponsor"}
    return None
