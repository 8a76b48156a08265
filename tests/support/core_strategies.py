"""Hypothesis strategies for the pure case core (``domain.case``): referrals, completion forms
valid for a task in the case it belongs to, schema-derived invalid forms, case actions, and
the passage of time.

Valid forms are written per task type, dated relative to the decision's "today" and to the
case (a consent after its counselling, a departure after its fit-to-travel checks, a delivery
after its plan), with every outcome of every branch.  Invalid forms are derived from the
form's own JSON Schema (the one the API serves and the UI renders): each schema mutation
(a required field dropped, an unknown field, a wrong type, a value outside an enum, a broken
pattern or format, a string or number out of bounds) must be refused by validation.
Semantic mutations (another outcome without its fields, dates moved) may or may not be
valid: the properties only ask that the core decides them consistently.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from domain.arrival_day import earliest_arrival_day
from domain.forms import ChoiceForm, SinceReferralInstant, since_referral_fields
from domain.offices import local_date
from domain.programmes.avrr.state import AvrrProgress
from domain import case as core
from domain.model import Actor, ActorKind, Priority, Programme, Referral, Relationship, Sex
from domain.programmes import profile_of
from domain.state import CaseState, TaskState
from domain.tasks import TASK_SPECS, TaskType
from tests.support.factories import member as member_dict

# --- people, places, words ------------------------------------------------------------------

USERS = ("ayse", "mehmet", "selin", "emre", "fatma", "ali")
ROLES = {"ayse": "caseworker", "mehmet": "caseworker", "selin": "medical_officer", "emre": "movement_officer",
         "fatma": "supervisor", "ali": "supervisor"}
OFFICES = ("IST", "IZM", "ANK")
DESTINATIONS = ("NO", "SE", "CA", "DE", "FI", "NZ")
ORIGINS = ("IQ", "AF", "SY", "PK", "IR")
NATIONALITIES = ("SY", "AF", "IQ", "IR", "SO", "ER")
LANGUAGES = ("ar", "fa", "ku", "ckb", "ps", "tr", "en")
AIRPORTS = ("IST", "SAW", "ADB", "ESB", "OSL", "ARN", "YYZ", "FRA", "EBL", "KBL", "BGW")
NAMES = ("Amina Haddad", "Omar Haddad", "Karwan Aziz", "Ayşe Çelik", "Zahra Ahmadi", "Layla Nouri",
         "Yusuf Al-Khatib", "Ṣāliḥ ʿAbd al-Raḥmān", "Farida Hosseini", "Dilan Öztürk")

# A bounded vocabulary keeps examples readable and shrinking fast; the unicode and the
# whitespace around it exercise the forms' strip_whitespace and the JSON round trips.
WORDS = ("ok", "Checked with the family.", "  trimmed  ", "Ağrı — follow-up ✓",
         "Called the clinic; results promised Friday.", "x" * 120, "اللغة العربية", "Line one\nline two")
words = st.sampled_from(WORDS)
optional_notes = st.sampled_from((None, None, None, None, *WORDS))


def weighted(**weights: int) -> st.SearchStrategy[str]:
    """One of the keys, as often as its weight (one choice: cheap to draw and to shrink)."""
    return st.sampled_from([key for key, n in weights.items() for _ in range(n)])


def actors() -> st.SearchStrategy[Actor]:
    return st.sampled_from(USERS).map(
        lambda u: Actor(kind=ActorKind.USER, id=u, role=ROLES[u], offices=("IST", "IZM")))


# --- referrals -------------------------------------------------------------------------------


@st.composite
def _family_referral(draw: st.DrawFn) -> Referral:
    """A family joining a sponsor: a spouse and children, or (a sponsor under 18) parents.
    Children born from 2009 turn 18 within the histories' years: the age-out clock fires."""
    person = lambda rel, born: member_dict(  # noqa: E731
        draw(st.sampled_from(NAMES)), born.isoformat(), rel, sex=draw(st.sampled_from(list(Sex))).value,
        nationality=draw(st.sampled_from(NATIONALITIES)))
    sponsor: dict[str, Any] = {"full_name": draw(st.sampled_from(NAMES)), "protection_status": "refugee",
                               "residence_permit": "DE-BER-AT-2025-118402", "city": "Berlin", "contact": "+49 30 1"}
    if draw(st.integers(0, 3)) == 0:
        sponsor["date_of_birth"] = draw(st.dates(date(2010, 1, 1), date(2015, 12, 31))).isoformat()
        people = [person("parent", draw(_dob())) for _ in range(draw(st.integers(1, 2)))]
    else:
        people = [person("spouse", draw(_dob()))] if draw(st.booleans()) else []
        people += [person("child", draw(st.dates(date(2009, 1, 1), date(2024, 12, 31))))
                   for _ in range(draw(st.integers(0 if people else 1, 3)))]
    return Referral.model_validate({
        "programme": "family_reunification", "office": draw(st.sampled_from(OFFICES)),
        "priority": draw(st.sampled_from(list(Priority))).value, "destination_country": "DE",
        "external_referral_id": f"IOM-FAP-PROP-{draw(st.integers(0, 999_999)):06d}", "sponsor": sponsor,
        "members": people})


@st.composite
def referrals(draw: st.DrawFn, programme: Programme) -> Referral:
    if programme.value == "family_reunification":
        return draw(_family_referral())
    size = draw(st.integers(1, 4))
    people = [member_dict(draw(st.sampled_from(NAMES)), draw(_dob()).isoformat(), "principal",
                          sex=draw(st.sampled_from(list(Sex))).value,
                          nationality=draw(st.sampled_from(NATIONALITIES)))]
    for _ in range(size - 1):
        relationship = draw(st.sampled_from([r for r in Relationship if r != Relationship.PRINCIPAL]))
        people.append(member_dict(draw(st.sampled_from(NAMES)), draw(_dob()).isoformat(), relationship.value,
                                  sex=draw(st.sampled_from(list(Sex))).value,
                                  nationality=draw(st.sampled_from(NATIONALITIES))))
    body: dict[str, Any] = {
        "programme": programme.value,
        "office": draw(st.sampled_from(OFFICES)),
        "priority": draw(st.sampled_from(list(Priority))).value,
        "external_referral_id": f"{'UNHCR' if programme == Programme.RESETTLEMENT else 'IOM'}-PROP-"
                                f"{draw(st.integers(0, 999_999)):06d}",
        "members": people,
    }
    if programme == Programme.RESETTLEMENT:
        body["destination_country"] = draw(st.sampled_from(DESTINATIONS))
    else:
        body["origin_country"] = draw(st.sampled_from(ORIGINS))
    return Referral.model_validate(body)


def _dob() -> st.SearchStrategy[date]:
    return st.dates(date(1935, 1, 1), date(2024, 12, 31))


@st.composite
def refer_commands(draw: st.DrawFn, programme: Programme) -> core.ReferCase:
    from domain.identity import case_id_for

    referral = draw(referrals(programme))
    months = None
    if programme == Programme.AVRR:
        months = draw(st.one_of(st.none(), st.lists(st.integers(1, 24), min_size=1, max_size=4, unique=True)
                                .map(sorted)))
    # Resettlement from a host state that requires an exit permission (or not, as before the rule).
    exit_permission = draw(st.sampled_from((None, "DGMM exit permission"))) if programme == Programme.RESETTLEMENT \
        else None
    return core.ReferCase(case_id=case_id_for(referral.external_referral_id), referral=referral,
                          arrival_confirmation_days=draw(st.integers(1, 10)), monitoring_months=months,
                          exit_permission=exit_permission)


def start_times() -> st.SearchStrategy[datetime]:
    return st.datetimes(datetime(2026, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))


_STEP_UNITS = {"none": (0, 0, timedelta(0)), "minutes": (1, 180, timedelta(minutes=1)),
               "hours": (1, 96, timedelta(hours=1)), "days": (1, 20, timedelta(days=1)),
               "months": (30, 200, timedelta(days=1, hours=3))}


@st.composite
def time_steps(draw: st.DrawFn) -> timedelta:
    """How long until the next command: often no time at all, otherwise minutes to months,
    so SLAs run out, clearances and visas expire and monitoring visits fall due."""
    lo, hi, unit = _STEP_UNITS[draw(weighted(none=6, minutes=4, hours=5, days=4, months=1))]
    return draw(st.integers(lo, hi)) * unit


# --- valid forms -----------------------------------------------------------------------------


def _iso(d: date) -> str:
    return d.isoformat()


def _on_or_after(today: date, lo: date | None, back: int = 10) -> st.SearchStrategy[date]:
    """A day that already happened, not before ``lo`` (when ``lo`` lies after today, today:
    the case rule refuses it, as it should)."""
    start = today - timedelta(days=back)
    if lo is not None and lo > start:
        start = min(lo, today)
    return st.integers(0, (today - start).days).map(lambda n: today - timedelta(days=n))


def _future(today: date, lo: int = 1, hi: int = 400) -> st.SearchStrategy[date]:
    return st.integers(lo, hi).map(lambda n: today + timedelta(days=n))


_OFFSETS = (timezone.utc, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5)),
            timezone(timedelta(hours=5, minutes=30)))


def _between(lo: datetime, hi: datetime) -> st.SearchStrategy[datetime]:
    """A moment in [lo, hi] to the minute, in one of a few time zones (the same instant)."""
    if hi <= lo:
        return st.just(lo)
    minutes = int((hi - lo).total_seconds() // 60)
    return st.tuples(st.integers(0, minutes), st.sampled_from(_OFFSETS)).map(
        lambda p: (lo + timedelta(minutes=p[0])).astimezone(p[1]))


@dataclass(frozen=True)
class FormContext:
    state: CaseState
    task: TaskState
    now: datetime

    @property
    def today(self) -> date:
        return self.now.date()


def valid_form(fc: FormContext) -> st.SearchStrategy[dict[str, Any]]:
    """A form the task's own validation accepts, with any of its outcomes.  Most are accepted by
    the case as well; some meet a case rule (four-eyes, a departure before its checks are due)."""
    return _VALID[fc.task.task_type](fc).map(functools.partial(_since_referral, fc))


def _since_referral(fc: FormContext, form: dict[str, Any]) -> dict[str, Any]:
    """A day of the case's own work (``forms.HappenedSinceReferral``) not before the case's
    referral day in its office (the case refuses it): moved up to that day."""
    model = profile_of(fc.state).spec(fc.task.task_type).form
    if isinstance(model, type) and issubclass(model, ChoiceForm):
        model = model.branches().get(form.get(model.choice_field()), model)
    referred_on = local_date(fc.state.referred_at, fc.state.office_time_zone).isoformat()
    late = {n: referred_on for n in since_referral_fields(model) if isinstance(form.get(n), str) and form[n] < referred_on}
    # A moment of its journey (``forms.HappenedAt``) not before the referral either.
    referred = fc.state.referred_at
    late |= {n: referred.isoformat() for n in since_referral_fields(model, SinceReferralInstant)
             if isinstance(form.get(n), str) and datetime.fromisoformat(form[n]) < referred}
    return form | late


def _drop_none(form: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if v is not None}


@st.composite
def _verify_referral(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"documents_checked": True, "notes": draw(optional_notes)})


@st.composite
def _conduct_interview(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    outcome = draw(weighted(accepted=12, deferred=1, rejected=1))
    form = {"interview_date": _iso(draw(_on_or_after(fc.today, None))), "outcome": outcome,
            "interpreter_language": draw(st.one_of(st.none(), st.sampled_from(LANGUAGES))),
            "notes": draw(optional_notes)}
    if outcome == "deferred":
        form["follow_up_date"] = _iso(draw(_future(fc.today, 0, 40)))
    if outcome == "rejected":
        form["rejection_reason"] = draw(words)
    return _drop_none(form)


@st.composite
def _assess_health(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    outcome = draw(weighted(cleared=12, treatment_required=1, not_cleared=1))
    form = {"assessment_date": _iso(draw(_on_or_after(fc.today, None))), "outcome": outcome,
            "tb_classification": draw(st.sampled_from(("none", "class_a", "class_b1", "class_b2", "class_b3"))),
            "follow_up_needed": draw(st.booleans()), "notes": draw(optional_notes)}
    if outcome == "cleared":
        form["clearance_valid_until"] = _iso(draw(_future(fc.today, 1, 400)))
    return _drop_none(form)


@st.composite
def _record_treatment(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"completed_on": _iso(draw(_on_or_after(fc.today, None))), "notes": draw(optional_notes)})


@st.composite
def _review_outcome(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    allowed = profile_of(fc.state).review_decisions(fc.state)
    decision = draw(st.one_of(st.sampled_from(allowed), st.sampled_from(("resubmit", "reassess", "reapply", "close"))))
    form: dict[str, Any] = {"decision": decision, "reason": draw(words)}
    if decision == "resubmit":
        others = [c for c in DESTINATIONS if c != fc.state.destination_country]
        form["destination_country"] = draw(st.sampled_from(others))
    return form


@st.composite
def _resolve_escalation(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    new_due = draw(st.one_of(st.none(), _future(fc.today, 0, 30)))
    return _drop_none({"action_taken": draw(words), "new_due_date": new_due and _iso(new_due)})


@st.composite
def _check_fit_to_travel(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    movement = fc.state.movement
    lo = movement.departure_at - core.FIT_TO_TRAVEL_WINDOW if movement else fc.now - timedelta(hours=24)
    hi = fc.now
    checked = draw(_between(lo, hi)) if hi >= lo else fc.now
    outcome = draw(weighted(fit=14, not_fit=1))
    return _drop_none({"checked_at": checked.isoformat(), "outcome": outcome, "notes": draw(optional_notes)})


@st.composite
def _record_departure(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    outcome = draw(weighted(departed=10, no_show=1, postponed=1))
    form: dict[str, Any] = {"outcome": outcome, "notes": draw(optional_notes)}
    if outcome == "departed":
        checks = [p.fit_to_travel_at for p in fc.state.progress.values() if p.fit_to_travel_at]
        start = max([fc.state.movement.departure_at] if fc.state.movement else [fc.now - timedelta(hours=1)])
        start = max([start, *checks])
        # Not after now (the case refuses a departure in the future): unless the flight is still
        # ahead, when the form is refused as in the future (that refusal is covered too).
        latest = min(start + timedelta(hours=3), fc.now) if start <= fc.now else start + timedelta(hours=3)
        form["departed_at"] = draw(_between(start, latest)).isoformat()
    else:
        form["reason"] = draw(words)
    return _drop_none(form)


@st.composite
def _confirm_arrival(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    departed = earliest_arrival_day(fc.state.departed_at) if fc.state.departed_at else None
    partner = (draw(st.sampled_from(("IOM Iraq, Erbil", "Oslo municipality")))
               if isinstance(fc.state.programme_data, AvrrProgress) else draw(st.one_of(st.none(), st.just("Oslo municipality"))))
    if isinstance(fc.state.programme_data, AvrrProgress) and draw(st.integers(0, 9)) == 0:
        partner = None  # AVRR needs a receiving partner: refused
    return _drop_none({"arrived_on": _iso(draw(_on_or_after(fc.today, departed, back=3))),
                       "place": draw(st.sampled_from(("Oslo", "Erbil", "  Kabul  "))),
                       "receiving_partner": partner, "notes": draw(optional_notes)})


@st.composite
def _book_movement(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    origin, destination = draw(st.lists(st.sampled_from(AIRPORTS), min_size=2, max_size=2, unique=True))
    # From hours (the checks open at once) to weeks ahead (they open on their timer).
    ahead = draw(st.one_of(st.integers(1, 71).map(lambda h: timedelta(hours=h)),
                           st.integers(3, 60).map(lambda d: timedelta(days=d, hours=7))))
    departure = (fc.now + ahead).astimezone(draw(st.sampled_from(_OFFSETS)))
    flight = draw(st.sampled_from(("TK", "SK", "AC", "LH", "IA"))) + str(draw(st.integers(1, 9999)))
    return _drop_none({"flight_number": flight, "departure_at": departure.isoformat(),
                       "departure_airport": origin, "arrival_airport": destination, "notes": draw(optional_notes)})


@st.composite
def _record_orientation(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"session_date": _iso(draw(_on_or_after(fc.today, None))),
                       "language": draw(st.sampled_from(LANGUAGES)), "notes": draw(optional_notes)})


@st.composite
def _record_visa(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    if draw(st.integers(0, 11)) == 0:
        return {"outcome": "refused", "decided_on": _iso(draw(_on_or_after(fc.today, None))),
                "refusal_reason": draw(words)}
    return {"outcome": "issued", "visa_number": f"V-{draw(st.integers(100, 10**8))}",
            "issued_on": _iso(draw(_on_or_after(fc.today, None))), "valid_until": _iso(draw(_future(fc.today, 1, 365)))}


@st.composite
def _record_counselling(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"session_date": _iso(draw(_on_or_after(fc.today, None))),
                       "language": draw(st.sampled_from(LANGUAGES)), "options_explained": True,
                       "notes": draw(optional_notes)})


@st.composite
def _record_consent(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    a = fc.state.programme_data
    return _drop_none({"given_by": draw(st.sampled_from(NAMES)),
                       "given_on": _iso(draw(_on_or_after(fc.today, a.counselled_on))),
                       "language": draw(st.sampled_from(LANGUAGES)),
                       "signed_form_reference": f"AVRR-{draw(st.integers(100, 99999))}", "notes": draw(optional_notes)})


@st.composite
def _assess_eligibility(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    outcome = draw(weighted(eligible=12, not_eligible=1))
    form = {"assessed_on": _iso(draw(_on_or_after(fc.today, None))), "outcome": outcome,
            "notes": draw(optional_notes)}
    if outcome == "not_eligible":
        form["not_eligible_reason"] = draw(words)
    return _drop_none(form)


@st.composite
def _screen_vulnerability(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    minor = draw(st.integers(0, 5)) == 0
    return _drop_none({
        "screened_on": _iso(draw(_on_or_after(fc.today, None))),
        "unaccompanied_minor": minor,
        "medical_needs": draw(st.integers(0, 3)) == 0,
        "victim_of_trafficking": draw(st.integers(0, 5)) == 0,
        "other_vulnerability": draw(st.one_of(st.none(), st.none(), st.just("Single parent"))),
        "escort_required": True if minor else draw(st.integers(0, 3)) == 0,
        "notes": draw(optional_notes),
    })


@st.composite
def _assess_fit_to_travel(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    outcome = draw(weighted(fit=12, treatment_required=1, not_fit=1))
    return _drop_none({"assessment_date": _iso(draw(_on_or_after(fc.today, None))), "outcome": outcome,
                       "medical_escort_required": draw(st.integers(0, 4)) == 0, "notes": draw(optional_notes)})


@st.composite
def _record_predeparture_counselling(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"session_date": _iso(draw(_on_or_after(fc.today, None))),
                       "language": draw(st.sampled_from(LANGUAGES)), "reintegration_support_explained": True,
                       "notes": draw(optional_notes)})


@st.composite
def _record_travel_document(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    if draw(st.integers(0, 11)) == 0:
        return {"outcome": "refused", "decided_on": _iso(draw(_on_or_after(fc.today, None))),
                "refusal_reason": draw(words)}
    return {"outcome": "issued",
            "document_type": draw(st.sampled_from(("passport", "laissez_passer", "emergency_travel_document"))),
            "document_number": f"LP-{draw(st.integers(100, 10**8))}",
            "issuing_consulate": "Consulate General of Iraq, Istanbul",
            "issued_on": _iso(draw(_on_or_after(fc.today, None))), "valid_until": _iso(draw(_future(fc.today, 1, 365)))}


@st.composite
def _record_exit_permission(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    form: dict[str, Any] = {"authority": "Provincial Directorate of Migration Management",
                            "decided_on": _iso(draw(_on_or_after(fc.today, None))), "notes": draw(optional_notes)}
    if draw(st.integers(0, 11)) == 0:
        form |= {"outcome": "refused", "refusal_reason": draw(words)}
    else:
        form |= {"outcome": "granted", "reference": f"PMM-{draw(st.integers(100, 10**8))}"}
    return _drop_none(form)


@st.composite
def _record_host_exit_permission(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"reference": f"DGMM-{draw(st.integers(100, 10**8))}",
                       "issued_on": _iso(draw(_on_or_after(fc.today, None))),
                       "valid_until": _iso(draw(_future(fc.today, 0, 365))),
                       "issuing_authority": "DGMM, Provincial Directorate of Migration Management",
                       "notes": draw(optional_notes)})


@st.composite
def _arrange_escort(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"escort_type": draw(st.sampled_from(("operational", "medical", "child_protection",
                                                            "social_worker"))),
                       "escort_name": draw(st.sampled_from(NAMES)), "organisation": "IOM Türkiye",
                       "notes": draw(optional_notes)})


@st.composite
def _reconfirm_consent(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    a = fc.state.programme_data
    return _drop_none({"reconfirmed_on": _iso(draw(_on_or_after(fc.today, a.consent_given_on))),
                       "language": draw(st.sampled_from(LANGUAGES)), "consent_reconfirmed": True,
                       "notes": draw(optional_notes)})


@st.composite
def _plan_item(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": draw(st.sampled_from(("economic", "social", "psychosocial"))),
                            "description": draw(st.sampled_from(("Small business grant", "Six counselling sessions",
                                                                 "School enrolment", "  Tool kit  ")))}
    if draw(st.booleans()):
        item["amount"] = draw(st.one_of(st.sampled_from(("2000.00", "0", "150.5", "9999999999.99")),
                                        st.integers(0, 5000), st.floats(0, 5000, allow_nan=False).map(
                                            lambda f: round(f, 2))))
        item["currency"] = draw(st.sampled_from(("USD", "EUR", "IQD")))
    return item


@st.composite
def _record_reintegration_plan(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return _drop_none({"agreed_on": _iso(draw(_on_or_after(fc.today, fc.state.arrived_on))),
                       "partner": draw(st.one_of(st.none(), st.just("IOM Iraq, Erbil"))),
                       "items": draw(st.lists(_plan_item(), min_size=1, max_size=4)), "notes": draw(optional_notes)})


@st.composite
def _record_assistance_delivery(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    a = fc.state.programme_data
    undelivered = [i.number for i in a.plan if i.delivered_on is None]
    number = draw(st.sampled_from(undelivered)) if undelivered and draw(st.integers(0, 7)) else draw(
        st.integers(1, 20))
    return _drop_none({"item_number": number, "delivered_on": _iso(draw(_on_or_after(fc.today, a.plan_agreed_on))),
                       "notes": draw(optional_notes)})


@st.composite
def _record_monitoring_visit(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    score = st.floats(0, 1, allow_nan=False)
    return _drop_none({"visited_on": _iso(draw(_on_or_after(fc.today, fc.state.arrived_on))),
                       "method": draw(st.sampled_from(("in_person", "phone", "video"))),
                       "reintegration_score": draw(score), "economic_score": draw(st.one_of(st.none(), score)),
                       "social_score": draw(st.one_of(st.none(), score)), "notes": draw(optional_notes)})


@st.composite
def _close_reintegration(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return {"decision": draw(weighted(close=1, continue_monitoring=2)), "reason": draw(words)}


@st.composite
def _assess_relationship(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    on = _iso(draw(_on_or_after(fc.today, None)))
    if draw(st.integers(0, 9)) == 0:
        return {"assessed_on": on, "outcome": "not_eligible", "not_eligible_reason": draw(words)}
    return _drop_none({"assessed_on": on, "outcome": "eligible", "evidence": "Family book", "notes": draw(optional_notes)})


@st.composite
def _record_documents(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    received = st.integers(0, 4).map(bool)  # mostly received
    return _drop_none({"received_on": _iso(draw(_on_or_after(fc.today, None))), "passport": draw(received),
                       "civil_documents": draw(received), "proof_of_relationship": draw(received),
                       "notes": draw(optional_notes)})


@st.composite
def _book_embassy_appointment(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    at = (fc.now + timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))).astimezone(draw(st.sampled_from(_OFFSETS)))
    return _drop_none({"appointment_at": at.isoformat(), "place": "German Embassy Beirut",
                       "reference": f"DE-BEY-{draw(st.integers(100, 10**6))}", "notes": draw(optional_notes)})


@st.composite
def _record_appointment_outcome(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    if draw(st.integers(0, 3)) == 0:
        return {"outcome": "missed", "missed_reason": draw(words)}
    return {"outcome": "attended", "attended_on": _iso(draw(_on_or_after(fc.today, None)))}


@st.composite
def _review_age_out(draw: st.DrawFn, fc: FormContext) -> dict[str, Any]:
    return {"decision": draw(weighted(keep=3, close=1)), "reason": draw(words)}


_VALID: dict[TaskType, Callable[[FormContext], st.SearchStrategy[dict[str, Any]]]] = {
    TaskType.VERIFY_REFERRAL: _verify_referral,
    TaskType.CONDUCT_INTERVIEW: _conduct_interview,
    TaskType.ASSESS_HEALTH: _assess_health,
    TaskType.RECORD_TREATMENT: _record_treatment,
    TaskType.RECORD_ORIENTATION: _record_orientation,
    TaskType.RECORD_VISA: _record_visa,
    TaskType.BOOK_MOVEMENT: _book_movement,
    TaskType.CHECK_FIT_TO_TRAVEL: _check_fit_to_travel,
    TaskType.RECORD_DEPARTURE: _record_departure,
    TaskType.CONFIRM_ARRIVAL: _confirm_arrival,
    TaskType.REVIEW_OUTCOME: _review_outcome,
    TaskType.RESOLVE_ESCALATION: _resolve_escalation,
    TaskType.RECORD_COUNSELLING: _record_counselling,
    TaskType.RECORD_CONSENT: _record_consent,
    TaskType.ASSESS_ELIGIBILITY: _assess_eligibility,
    TaskType.SCREEN_VULNERABILITY: _screen_vulnerability,
    TaskType.ASSESS_FIT_TO_TRAVEL: _assess_fit_to_travel,
    TaskType.RECORD_PREDEPARTURE_COUNSELLING: _record_predeparture_counselling,
    TaskType.RECORD_TRAVEL_DOCUMENT: _record_travel_document,
    TaskType.RECORD_EXIT_PERMISSION: _record_exit_permission,
    TaskType.ARRANGE_ESCORT: _arrange_escort,
    TaskType.RECORD_HOST_EXIT_PERMISSION: _record_host_exit_permission,
    TaskType.RECONFIRM_CONSENT: _reconfirm_consent,
    TaskType.RECORD_REINTEGRATION_PLAN: _record_reintegration_plan,
    TaskType.RECORD_ASSISTANCE_DELIVERY: _record_assistance_delivery,
    TaskType.RECORD_MONITORING_VISIT: _record_monitoring_visit,
    TaskType.CLOSE_REINTEGRATION: _close_reintegration,
    TaskType.ASSESS_RELATIONSHIP: _assess_relationship,
    TaskType.RECORD_DOCUMENTS: _record_documents,
    TaskType.COMPLETE_DOCUMENTS: _record_documents,
    TaskType.BOOK_EMBASSY_APPOINTMENT: _book_embassy_appointment,
    TaskType.RECORD_APPOINTMENT_OUTCOME: _record_appointment_outcome,
    TaskType.RECORD_FAMILY_VISA: _record_visa,
    TaskType.REVIEW_AGE_OUT: _review_age_out,
}
assert set(_VALID) == set(TaskType), "every task type needs a valid-form strategy"


# --- invalid forms, from the JSON Schema ------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a property schema allows (anyOf / $ref flattened)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(root["$defs"][name], root)
    if "anyOf" in schema:
        return [alt for option in schema["anyOf"] for alt in _resolve(option, root)]
    if "allOf" in schema:
        return [alt for option in schema["allOf"] for alt in _resolve(option, root)]
    return [schema]


_PATTERN_BREAKERS = ("!!", "\x00", "a\x1bb", "one\ntwo", "x\u202ey", "\ud800")


def _breaking(patterns: list[str]) -> str | None:
    """A string no pattern matches (the schema's patterns are ECMA-262; these are read alike)."""
    for candidate in _PATTERN_BREAKERS:
        if not any(re.search(p, candidate) for p in patterns):
            return candidate
    return None


@functools.cache
def form_schema(task_type: TaskType) -> dict[str, Any]:
    """The JSON Schema the API serves for the task's form (and the UI renders)."""
    return TASK_SPECS[task_type].form.model_json_schema()


def schema_violations(task_type: TaskType, form: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every way to break ``form`` that its task's JSON Schema forbids: (what, broken form)."""
    root = form_schema(task_type)
    props: dict[str, Any] = root["properties"]
    broken: list[tuple[str, dict[str, Any]]] = []
    for field in root.get("required", []):
        broken.append((f"missing {field}", {k: v for k, v in form.items() if k != field}))
    broken.append(("unknown field", {**form, "unexpected_field": "surprise"}))
    for field, schema in props.items():
        alts = _resolve(schema, root)
        types = {a.get("type") for a in alts}
        if "object" not in types:
            broken.append((f"{field}: wrong type", {**form, field: {"unexpected": "object"}}))
        strings = [a for a in alts if a.get("type") == "string"]
        if all("enum" in a or "const" in a for a in alts if a.get("type") != "null"):
            broken.append((f"{field}: not a choice", {**form, field: "definitely-not-a-choice"}))
        if strings and all("pattern" in a for a in strings):
            bad = _breaking([a["pattern"] for a in strings])
            if bad is not None:
                broken.append((f"{field}: pattern", {**form, field: bad}))
        if strings and all(a.get("format") in ("date", "date-time") for a in strings):
            broken.append((f"{field}: format", {**form, field: "not-a-date"}))
        if strings and all(a.get("minLength", 0) >= 1 for a in strings) and all(
                "enum" not in a and "format" not in a for a in strings):
            broken.append((f"{field}: empty", {**form, field: "   "}))
        if strings and all("maxLength" in a for a in strings):
            broken.append((f"{field}: too long", {**form, field: "x" * (max(a["maxLength"] for a in strings) + 1)}))
        numbers = [a for a in alts if a.get("type") in ("integer", "number")]
        if numbers and len(numbers) == len([a for a in alts if a.get("type") != "null"]):
            if all("maximum" in a for a in numbers):
                broken.append((f"{field}: above maximum", {**form, field: max(a["maximum"] for a in numbers) + 1}))
            if all("minimum" in a for a in numbers):
                broken.append((f"{field}: below minimum", {**form, field: min(a["minimum"] for a in numbers) - 1}))
        arrays = [a for a in alts if a.get("type") == "array"]
        if arrays and all(a.get("minItems", 0) >= 1 for a in arrays):
            broken.append((f"{field}: empty list", {**form, field: []}))
    return broken


def semantic_mutations(task_type: TaskType, form: dict[str, Any], today: date) -> list[tuple[str, dict[str, Any]]]:
    """Changes the schema allows but the form's rules or the case may not: another outcome
    without the fields it needs, a date moved far ahead or back, an optional field removed."""
    root = form_schema(task_type)
    changed: list[tuple[str, dict[str, Any]]] = []
    for field, schema in root["properties"].items():
        alts = _resolve(schema, root)
        for a in alts:
            for choice in a.get("enum", []):
                if form.get(field) != choice:
                    changed.append((f"{field}={choice}", {**form, field: choice}))
        if any(a.get("format") == "date" for a in alts):
            changed.append((f"{field} ahead", {**form, field: (today + timedelta(days=400)).isoformat()}))
            changed.append((f"{field} back", {**form, field: "1999-01-01"}))
        if any(a.get("format") == "date-time" for a in alts):
            changed.append((f"{field} ahead", {**form, field: f"{(today + timedelta(days=5)).isoformat()}T12:00:00Z"}))
            changed.append((f"{field} naive", {**form, field: f"{today.isoformat()}T00:00:00"}))
        if field in form and field not in root.get("required", []):
            changed.append((f"without {field}", {k: v for k, v in form.items() if k != field}))
    return changed


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One command of a generated history, with what the generator meant by it."""

    command: core.Command
    actor: Actor
    intent: str  # e.g. "valid form", "schema: missing outcome", "tick", "hold"
    must_reject: bool = False  # a schema-invalid form for an open task of the current stage


reasons = st.sampled_from(("Family asked for time.", "Supervisor decision", "  padded reason  ", "ok",
                           "Раздел 4 — проверка"))
usernames = st.sampled_from(("ayse", "mehmet", "selin", "emre", "fatma", "ali", "new.user-1"))


@st.composite
def commands(draw: st.DrawFn, state: CaseState, now: datetime, refer: core.ReferCase) -> Step:
    """A command for the case as it stands: mostly task completions with valid forms (so cases
    get far), mixed with invalid forms, not-open tasks, clock ticks and case actions."""
    actor = draw(actors())
    open_tasks = state.open_tasks
    avrr = isinstance(state.programme_data, AvrrProgress)
    held = state.status == "on_hold"
    # A withdrawal ends the story: rare, so that most cases get far.
    kind = draw(weighted(
        complete_valid=24, complete_schema_invalid=2, complete_semantic=2, complete_not_open=1, tick=2,
        hold=1, resume=12 if held else 1, note=1, reassign=1, correct=1, refer_again=1,
        withdraw_consent=1 if avrr else 0, consent_elsewhere=0 if avrr else 1))
    if kind == "withdraw_consent" and draw(st.integers(0, 11)):
        kind = "note"
    if kind == "note" and draw(st.integers(0, 19)) == 0:
        kind = "withdraw"
    if kind.startswith("complete") and kind != "complete_not_open" and not open_tasks:
        kind = "tick"
    if kind == "complete_valid":
        task = draw(st.sampled_from(open_tasks))
        form = draw(valid_form(FormContext(state, task, now)))
        return Step(core.CompleteTask(task_id=task.task_id, form=form), actor, f"valid {task.task_type.value}")
    if kind == "complete_schema_invalid":
        task = draw(st.sampled_from(open_tasks))
        form = draw(valid_form(FormContext(state, task, now)))
        what, broken = draw(st.sampled_from(schema_violations(task.task_type, form)))
        must = state.status == "active" and (task.stage == state.stage or
                                              task.task_type == TaskType.RESOLVE_ESCALATION)
        return Step(core.CompleteTask(task_id=task.task_id, form=broken), actor,
                    f"schema-invalid {task.task_type.value}: {what}", must_reject=must)
    if kind == "complete_semantic":
        task = draw(st.sampled_from(open_tasks))
        form = draw(valid_form(FormContext(state, task, now)))
        options = semantic_mutations(task.task_type, form, now.date())
        what, changed = draw(st.sampled_from(options)) if options else ("unchanged", form)
        return Step(core.CompleteTask(task_id=task.task_id, form=changed), actor,
                    f"mutated {task.task_type.value}: {what}")
    if kind == "complete_not_open":
        done = [t for t in state.tasks.values() if t.status != "open"]
        if done and draw(st.booleans()):
            task = draw(st.sampled_from(done))
            form = draw(valid_form(FormContext(state, task, now)))
            return Step(core.CompleteTask(task_id=task.task_id, form=form), actor, f"{task.status} task")
        return Step(core.CompleteTask(task_id=f"{state.case_id}-T{draw(st.integers(90, 120))}", form={}),
                    actor, "unknown task")
    if kind == "tick":
        return Step(core.Tick(), Actor.system(), "tick")
    if kind == "hold":
        return Step(core.HoldCase(reason=draw(reasons)), actor, "hold")
    if kind == "resume":
        return Step(core.ResumeCase(reason=draw(reasons)), actor, "resume")
    if kind == "note":
        return Step(core.AddNote(text=draw(words)), actor, "note")
    if kind == "withdraw":
        return Step(core.WithdrawCase(reason=draw(reasons)), actor, "withdraw")
    if kind == "reassign":
        pool = open_tasks if open_tasks and draw(st.integers(0, 4)) else list(state.tasks.values())
        task_id = draw(st.sampled_from(pool)).task_id if pool else f"{state.case_id}-T99"
        return Step(core.ReassignTask(task_id=task_id, assignee=draw(usernames), reason=draw(reasons)), actor,
                    "reassign")
    if kind == "correct":
        return draw(_corrections(state, actor))
    if kind in ("withdraw_consent", "consent_elsewhere"):
        on = now.date() - timedelta(days=draw(st.integers(-3, 20)))  # sometimes in the future: refused
        return Step(core.WithdrawConsent(withdrawn_by=draw(st.sampled_from(NAMES)), withdrawn_on=on,
                                         language=draw(st.sampled_from(LANGUAGES)), reason=draw(reasons)), actor,
                    "withdraw consent")
    assert kind == "refer_again"
    if draw(st.booleans()):
        return Step(refer, actor, "same referral again")
    other = refer.referral.model_copy(update={"office": draw(st.sampled_from(OFFICES)),
                                              "priority": draw(st.sampled_from(list(Priority)))})
    return Step(core.ReferCase(case_id=refer.case_id, referral=other,
                               arrival_confirmation_days=refer.arrival_confirmation_days,
                               monitoring_months=refer.monitoring_months), actor, "referral again, maybe changed")


@st.composite
def _corrections(draw: st.DrawFn, state: CaseState, actor: Actor) -> Step:
    member_id = draw(st.one_of(st.sampled_from([m.member_id for m in state.members]),
                               st.just(f"{state.case_id}-M9")))
    change = draw(st.sampled_from(("full_name", "date_of_birth", "sex", "nationality", "relationship",
                                   "bad_nationality", "old_dob", "unknown", "empty", "member_id")))
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "full_name": lambda: {"full_name": draw(st.sampled_from(NAMES))},
        "date_of_birth": lambda: {"date_of_birth": draw(_dob()).isoformat()},
        "sex": lambda: {"sex": draw(st.sampled_from(list(Sex))).value},
        "nationality": lambda: {"nationality": draw(st.sampled_from(NATIONALITIES))},
        "relationship": lambda: {"relationship": draw(st.sampled_from(list(Relationship))).value},
        "bad_nationality": lambda: {"nationality": "XX"},
        "old_dob": lambda: {"date_of_birth": "1899-12-31"},
        "unknown": lambda: {"favourite_colour": "blue"},
        "empty": lambda: {},
        "member_id": lambda: {"member_id": "C-HIJACK-M1"},
    }
    changes = makers[change]()
    return Step(core.CorrectMember(member_id=member_id, changes=changes, reason=draw(reasons)), actor,
                f"correct {change}")


def event_ids(start: int = 1) -> Callable[[], str]:
    """Event ids as the event store keeps them (uuid), from a counter: deterministic."""
    counter = iter(range(start, 10**12))
    return lambda: str(uuid.UUID(int=next(counter)))

