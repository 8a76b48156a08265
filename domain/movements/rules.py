"""The manifest rules: checked when a case is added and again, for every case, at lock.

Each rule that blocks names the case, the rule and, where it is about a person, the member.
The facts come from the case's own workflow (``CaseFacts``), taken just before the check.

| rule | blocks when |
|---|---|
| ``case_not_found`` | no case workflow has this id, or the case belongs to another office than the movement (said as for an unknown case: its existence is not revealed) |
| ``case_closed`` | the case is closed (withdrawn, consent withdrawn, ...) |
| ``case_on_hold`` | the case is on hold |
| ``wrong_stage`` | the case is not in the movement stage waiting for a booking |
| ``on_other_movement`` | the case is on another open movement's manifest |
| ``capacity`` | the case's members need more seats than are left (infants under 2 on a lap need none) |
| ``infant_without_adult`` | a case has more lap infants than people with a seat to hold them |
| ``medical_clearance`` | a member's medical clearance is not valid on the day of travel (cases without an IOM health stage: never) |
| ``travel_document`` | a member's visa or travel document is not valid on the day of travel |
| ``consent`` | AVRR: the migrant's consent is not given (or withdrawn) |
| ``exit_permission`` | resettlement or family reunification from a host state that requires an exit permission (the case's office's, recorded at referral): it is not recorded, or expires before the day of travel |
| ``destination`` | the case travels to another country than the flight lands in: its destination country (resettlement, family reunification) or its country of return (AVRR) is not the country of the movement's arrival_airport (``arrival_country``); only where both are known (``destination_problems``) |
| ``member_on_manifest`` | a member of the case is on this manifest already under another case (the family was split after that case was added: its entry still lists the people who left it); named with both cases |
| ``members_changed`` | at lock: the case's members are not those listed when it was added (a split took people off it since): take the case off and add it again (``members_changed_problems``; named before the lock in the movement's ``rule_check``, from the read model: ``left_case_problems``) |
| ``special_needs`` | a member needs a stretcher or a medical escort and the movement has no medical escort, or is an unaccompanied minor and it has no operational escort (the needs the case knows, e.g. AVRR's fit-to-travel assessment asking for a medical escort, and those the movement officer listed) |

A delay checks, for every booked case, the rules a later day of travel may break
(``medical_clearance``, ``travel_document``: ``validity_problems``; ``exit_permission``) on the
new day: a case they block is dropped from the flight (back to rebooking), each member named.
It also recounts every case's seats for the new day (``recount_members``): a baby who turns 2
before the new day of travel takes a seat, and a case of minors only in which one turns 18 is
no longer unaccompanied.  The delay itself is never refused for that (it is the airline's
fact, not the officer's choice), nor does it choose which family to drop: the seats that no
longer fit are named (``seat_problems``: the movement's ``rule_check``, each case and member)
and the lock and the departure are refused on them until the officer takes a case off the
manifest (or, at the departure, records the family that did not board).

And when the departure is confirmed, its time first (``early_departure_problems``, judged by the
departure Update's validator): ``departure_too_early``, a ``departed_at`` more than 12 hours
before the scheduled ``departure_at``.  Then for every case the lock booked (``departure_problems``):

| ``not_ready_to_depart`` | the case cannot take its departure yet: no fit-to-travel check within the 72 hours before the flight for a member (named), or another step first (e.g. AVRR's consent reconfirmation) |
| ``booking_changed`` | the case is no longer booked on this movement's flight |
| ``case_on_hold`` | the case is on hold (only histories before ``held-cases-depart-v1``: a held case departs since) |
| ``not_booked`` | the lock's (or a delay's) booking was not applied on the case (held during the fan-out): take it off or record it not boarded (``unbooked_problems``, judged by the update's validator) |
| ``members_changed`` | the case's members are not those the manifest lists for it (a split since the lock's check) |
| ``capacity`` | the cases that depart need more seats than the movement has (after a delay made a lap infant 2: ``seat_problems``) |
| ``infant_without_adult`` | a departing case has more lap infants than people with a seat |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from domain.model import CaseStatus, Stage
from domain.movements.model import (
    LAP_INFANT_AGE_YEARS,
    NEEDS_MEDICAL_ESCORT,
    NEEDS_OPERATIONAL_ESCORT,
    CaseFacts,
    ManifestEntry,
    ManifestMember,
    MovementDetails,
    MovementState,
    Problem,
    SeatRecount,
)

BOOKING_TASK = "book_movement"
ADULT_AGE_YEARS = 18
DEPARTURE_TASK = "record_departure"
# A departing person's fit-to-travel check lies within this window before the departure (the
# case's own rule, domain.programmes.travel.FIT_TO_TRAVEL_WINDOW).
FIT_TO_TRAVEL_WINDOW = timedelta(hours=72)
# A departure is dated at most this long before the scheduled departure_at: a flight does not
# leave half a day early (one brought forward is given its new time first:
# ``early_departure_problems``).
EARLIEST_DEPARTURE_BEFORE_SCHEDULE = timedelta(hours=12)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def manifest_members(facts: CaseFacts, details: MovementDetails,
                     listed: ManifestEntry | None = None) -> list[ManifestMember]:
    """The case's people as the manifest lists them; their needs are those the case knows now
    (``case_needs``) and those the movement officer listed (``listed``: the case's entry on the
    manifest, if any), each once."""
    day = details.travel_day()
    # A case of minors only (under 18 on the day of travel) is unaccompanied: each travels with
    # an operational escort.
    unaccompanied = bool(facts.members) and all(age_on(m.date_of_birth, day) < ADULT_AGE_YEARS for m in facts.members)
    members = []
    for m in facts.members:
        before = listed.member(m.member_id) if listed is not None else None
        known = set(m.needs) | ({"unaccompanied_minor"} if unaccompanied else set())
        # What the case knew when it joined but no longer does (a re-assessment without an
        # escort) is not kept: only what the officer listed beyond it.
        needs = sorted(known | set(before.listed_needs if before else []))
        members.append(ManifestMember(member_id=m.member_id, full_name=m.full_name, date_of_birth=m.date_of_birth,
                                      sex=m.sex, nationality=m.nationality, needs=needs,  # type: ignore[arg-type]
                                      case_needs=sorted(known),  # type: ignore[arg-type]
                                      lap_infant=age_on(m.date_of_birth, day) < LAP_INFANT_AGE_YEARS))
    return members


def refreshed_members(entry: ManifestEntry, facts: CaseFacts, details: MovementDetails) -> list[ManifestMember] | None:
    """The entry's people as the case has them now (name, date of birth, sex, nationality, and
    so the lap seat and the needs the case knows), when that differs from what the manifest
    lists (None: the same).  Used at lock, after ``members_changed_problems`` found the same
    people: a correction made after the case was added reaches the manifest the airline gets.
    What the movement officer listed stays (``manifest_members``), and a seat a delay gave stays
    while the person is still no lap infant."""
    fresh = manifest_members(facts, details, entry)
    for m in fresh:
        before = entry.member(m.member_id)
        m.seat_since_delay = bool(before is not None and before.seat_since_delay and not m.lap_infant)
    if [m.model_dump() for m in fresh] == [m.model_dump() for m in entry.members]:
        return None
    return fresh


def members_changed_problems(entry: ManifestEntry, facts: CaseFacts) -> list[Problem]:
    """Each person the manifest lists under ``entry``'s case who is no longer in it (split off
    to a case of their own since the case was added), and each person of the case the manifest
    does not list: the manifest must list the people who fly under the case that books them."""
    if not facts.found or facts.status == CaseStatus.CLOSED:
        return []  # said by the case's own rules (case_not_found, case_closed)
    return changed_members_problems(entry, {m.member_id: m.full_name for m in facts.members})


def changed_members_problems(entry: ManifestEntry, now: Mapping[str, str]) -> list[Problem]:
    """``members_changed_problems`` against ``now``: member id -> name of each person the
    entry's case holds now (its facts at the lock and the departure; the read model's in the
    movement's ``rule_check``, ``left_case_problems``)."""
    listed = {m.member_id for m in entry.members}
    problems = [Problem(case_id=entry.case_id, rule="members_changed", member_id=m.member_id, member_name=m.full_name,
                        message=f"{m.full_name} ({m.member_id}) left case {entry.case_id} (split) since it was added: "
                                f"take the case off the manifest and add it again")
                for m in entry.members if m.member_id not in now]
    problems += [Problem(case_id=entry.case_id, rule="members_changed", member_id=member_id, member_name=name,
                         message=f"{name} ({member_id}) is in case {entry.case_id} but not on the manifest "
                                 "with it: take the case off the manifest and add it again")
                 for member_id, name in now.items() if member_id not in listed]
    return problems


def left_case_problems(state: MovementState, holders: Mapping[str, str]) -> list[Problem]:
    """The lock's ``members_changed`` rule, for the movement's ``rule_check`` before the lock
    refuses (and after it, before the departure does): each person listed under a case that no
    longer holds them (``holders``: member id -> the case that holds the person now, the read
    model's ``case_members``; a person it does not know is taken to be where the manifest says).
    A case gains no people (a split only takes them off), so only those who left are named."""
    return [p for e in state.manifest for p in changed_members_problems(
        e, {m.member_id: m.full_name for m in e.members if holders.get(m.member_id, e.case_id) == e.case_id})]


def _age_in_words(born: date, day: date) -> str:
    """``3 years`` or, under 2, ``14 months``: the age a seat is counted for."""
    years = age_on(born, day)
    if years >= LAP_INFANT_AGE_YEARS:
        return f"{years} years old"
    months = (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)
    return f"{months} month{'s' if months != 1 else ''} old"


def lap_or_seat_problems(state: MovementState, *, locked: bool) -> list[Problem]:
    """Each person whose seat no longer fits their date of birth on the day of travel: a
    correction made since the manifest counted the seats (``state``'s manifest with each
    person's identity as their case has it now, ``export.current_manifest``) made a child under
    2 who has a seat, or a person of 2 or more on a lap.  The count is the delay's
    (``recount_members``, the lap only).  Before the lock it says that the lock counts again;
    after it, the booking has the old count, so the officer tells the airline."""
    day = state.details.travel_day()
    what = ("the booking counted it otherwise (the date of birth was corrected since the lock): tell the airline"
            if locked else "the lock counts the seats again from the corrected date of birth")
    problems: list[Problem] = []
    for e in state.manifest:
        for r in recount_members(e, None, state.details):
            m = e.member(r.member_id)
            assert m is not None
            has = ("a lap infant (under 2), and the manifest gives them a seat" if r.lap_infant
                   else "not a lap infant (2 or more: a seat of their own), and the manifest has them on a lap")
            problems.append(Problem(case_id=e.case_id, rule="lap_or_seat", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name} (case {e.case_id}, born {m.date_of_birth.isoformat()}) "
                                            f"is {_age_in_words(m.date_of_birth, day)} on the day of travel "
                                            f"{day.isoformat()}: {has}; {what}"))
    return problems


def member_on_manifest_problems(state: MovementState, facts: list[CaseFacts]) -> list[Problem]:
    """Each member of the cases being added (``facts``) whom the manifest lists already under
    another case, or whom two of the added cases list: a family split after one of its cases was
    added leaves the people who left it on that case's entry, and adding the split-off case
    would list them twice on one flight."""
    where = {m.member_id: (e.case_id, m.full_name) for e in state.manifest for m in e.members}
    problems: list[Problem] = []
    for f in facts:
        if not f.found:
            continue
        for m in f.members:
            other = where.get(m.member_id)
            if other is not None and other[0] != f.case_id:
                problems.append(Problem(
                    case_id=f.case_id, rule="member_on_manifest", member_id=m.member_id, member_name=m.full_name,
                    message=f"{m.full_name} ({m.member_id}) of case {f.case_id} is on this manifest already under "
                            f"case {other[0]} (a split since it was added): take case {other[0]} off the manifest "
                            f"and add it again, then add case {f.case_id}"))
            else:
                where[m.member_id] = (f.case_id, m.full_name)
    return problems


def listed_twice_problems(state: MovementState) -> list[Problem]:
    """Each person the manifest lists under two cases (a manifest added to before the
    ``member_on_manifest`` rule, or a history recorded before it): named for the movement
    officer in ``rule_check``; the lock refuses such a manifest (``members_changed``)."""
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for e in state.manifest:
        for m in e.members:
            if m.member_id in seen and seen[m.member_id] != e.case_id:
                problems.append(Problem(case_id=e.case_id, rule="member_on_manifest", member_id=m.member_id,
                                        member_name=m.full_name,
                                        message=f"{m.full_name} ({m.member_id}) is listed twice: under case "
                                                f"{seen[m.member_id]} and case {e.case_id}"))
            seen.setdefault(m.member_id, e.case_id)
    return problems


def recount_members(entry: ManifestEntry, facts: CaseFacts | None, details: MovementDetails) -> list[SeatRecount]:
    """The members of ``entry`` whose lap seat or needs differ on ``details``' day of travel
    (a delay's new day), as the manifest would list them now: the lap from the date of birth,
    the needs (a case of minors only is unaccompanied) from the case's facts as at add and
    lock (``manifest_members``).  Without the case's facts (not found) only the lap is
    recounted."""
    day = details.travel_day()
    fresh = ({m.member_id: m for m in manifest_members(facts, details, entry)}
             if facts is not None and facts.found else {})
    changed = []
    for member in entry.members:
        now = fresh.get(member.member_id)
        lap = age_on(member.date_of_birth, day) < LAP_INFANT_AGE_YEARS
        needs = list(now.needs) if now is not None else list(member.needs)
        case_needs = list(now.case_needs) if now is not None else list(member.case_needs)
        if (lap, sorted(needs), sorted(case_needs)) != (member.lap_infant, sorted(member.needs),
                                                        sorted(member.case_needs)):
            changed.append(SeatRecount(member_id=member.member_id, lap_infant=lap, needs=needs,  # type: ignore[arg-type]
                                       case_needs=case_needs))  # type: ignore[arg-type]
    return changed


def seat_problems(state: MovementState, entries: list[ManifestEntry] | None = None, *,
                  resolve: str = "take a case off the manifest") -> list[Problem]:
    """Whether the seats of ``entries`` (default: the whole manifest) fit the movement, as the
    manifest counts them for the current day of travel: a case with more lap infants than
    people with a seat (``infant_without_adult``), and seats over capacity (``capacity``: the
    whole, then each person a delay took off a lap, by case).  ``resolve`` says what the officer
    does about it."""
    entries = state.manifest if entries is None else entries
    day = state.details.travel_day()
    problems: list[Problem] = []
    for e in entries:
        infants = len(e.members) - e.seats
        if infants > e.seats:
            problems.append(Problem(case_id=e.case_id, rule="infant_without_adult",
                                    message=f"case {e.case_id} has {infants} infants under 2 on the day of travel "
                                            f"{day.isoformat()} and only {e.seats} people with a seat to hold them"))
    seats = sum(e.seats for e in entries)
    capacity = state.details.seat_capacity
    if seats > capacity:
        people = sum(len(e.members) for e in entries)
        problems.append(Problem(case_id="*", rule="capacity",
                                message=f"the manifest needs {seats} seats on the day of travel {day.isoformat()} "
                                        f"({people} people, {people - seats} infants on a lap); the movement has "
                                        f"{capacity}: {resolve}"))
        problems += [Problem(case_id=e.case_id, rule="capacity", member_id=m.member_id, member_name=m.full_name,
                             message=f"{m.full_name} (case {e.case_id}, born {m.date_of_birth.isoformat()}) is 2 on "
                                     f"the delayed day of travel {day.isoformat()}: no longer on a lap, needs a seat")
                     for e in entries for m in e.members if m.seat_since_delay and not m.lap_infant]
    return problems


def needs_problems(case_id: str, members: list[ManifestMember], details: MovementDetails) -> list[Problem]:
    """Each member whose needs the movement's escorts do not cover, with the escort missing."""
    kinds = {e.kind for e in details.escorts}
    problems = []
    for m in members:
        if "medical" not in kinds and (need := sorted(NEEDS_MEDICAL_ESCORT & set(m.needs))):
            problems.append(Problem(case_id=case_id, rule="special_needs", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name}: needs {' and '.join(n.replace('_', ' ') for n in need)}, "
                                            "and the movement has no medical escort"))
        if "operational" not in kinds and NEEDS_OPERATIONAL_ESCORT & set(m.needs):
            problems.append(Problem(case_id=case_id, rule="special_needs", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name}: an unaccompanied minor travels with an operational "
                                            "escort, and the movement has none"))
    return problems


def validity_problems(facts: CaseFacts, details: MovementDetails) -> list[Problem]:
    """Each member whose medical clearance or visa / travel document is not valid on the day of travel."""
    case_id = facts.case_id
    day = details.travel_day()
    problems: list[Problem] = []
    for m in facts.members:
        if facts.medical_clearance_required and (
                m.health != "cleared" or (m.clearance_valid_until is not None and m.clearance_valid_until < day)):
            until = f" (valid until {m.clearance_valid_until.isoformat()})" if m.clearance_valid_until else ""
            problems.append(Problem(case_id=case_id, rule="medical_clearance", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name}: medical clearance {m.health}{until}, not valid on the "
                                            f"day of travel {day.isoformat()}"))
        if m.visa != "issued" or (m.visa_valid_until is not None and m.visa_valid_until < day):
            until = f" (valid until {m.visa_valid_until.isoformat()})" if m.visa_valid_until else ""
            problems.append(Problem(case_id=case_id, rule="travel_document", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name}: visa or travel document {m.visa}{until}, not valid on "
                                            f"the day of travel {day.isoformat()}"))
    return problems


def case_problems(state: MovementState, facts: CaseFacts, *, seats_left: int,
                  listed: ManifestEntry | None = None) -> list[Problem]:
    """Why ``facts``' case may not travel on this movement (empty: it may)."""
    case_id = facts.case_id
    details = state.details
    if not facts.found or facts.office != details.office:
        # Another office's case is answered as an unknown one: a movement officer of one
        # office learns neither that it exists nor where (as everywhere in the API).
        return [Problem(case_id=case_id, rule="case_not_found", message=f"no case {case_id}")]
    if facts.status == CaseStatus.CLOSED:
        why = f" ({facts.closure_reason})" if facts.closure_reason else ""
        return [Problem(case_id=case_id, rule="case_closed", message=f"case {case_id} is closed{why}")]
    problems: list[Problem] = []
    if facts.on_hold:
        problems.append(Problem(case_id=case_id, rule="case_on_hold", message=f"case {case_id} is on hold"))
    if facts.stage != Stage.MOVEMENT or facts.departed_at is not None:
        problems.append(Problem(case_id=case_id, rule="wrong_stage",
                                message=f"case {case_id} is in the {facts.stage.value} stage, not waiting for a "
                                        "flight in the movement stage"))
    elif facts.booked_flight is not None:
        problems.append(Problem(case_id=case_id, rule="wrong_stage",
                                message=f"case {case_id} is already booked on {facts.booked_flight}"))
    elif BOOKING_TASK not in facts.open_tasks:
        problems.append(Problem(case_id=case_id, rule="wrong_stage",
                                message=f"case {case_id} is not ready to be booked: open first "
                                        f"{', '.join(sorted(facts.open_tasks)) or 'nothing'}"))
    if facts.other_movement_id is not None and facts.other_movement_id != state.movement_id:
        problems.append(Problem(case_id=case_id, rule="on_other_movement",
                                message=f"case {case_id} is on the manifest of movement {facts.other_movement_id}"))
    members = manifest_members(facts, details, listed)
    seats = sum(1 for m in members if not m.lap_infant)
    infants = len(members) - seats
    if seats > seats_left:
        problems.append(Problem(case_id=case_id, rule="capacity",
                                message=f"case {case_id} needs {seats} seats ({len(members)} people, {infants} infants "
                                        f"on a lap); {max(seats_left, 0)} of {details.seat_capacity} are left"))
    if infants > seats:
        problems.append(Problem(case_id=case_id, rule="infant_without_adult",
                                message=f"case {case_id} has {infants} infants under 2 and only {seats} people "
                                        "with a seat to hold them"))
    problems += validity_problems(facts, details)
    problems += needs_problems(case_id, members, details)
    if facts.consent_status is not None and facts.consent_status not in ("given", "reconfirmed"):
        problems.append(Problem(case_id=case_id, rule="consent",
                                message=f"case {case_id}: the migrant's consent is {facts.consent_status}"))
    problems += exit_permission_problems(facts, details)
    problems += destination_problems(facts, details)
    return problems


def destination_problems(facts: CaseFacts, details: MovementDetails) -> list[Problem]:
    """Whether the flight lands in the country the case travels to: its destination country
    (resettlement, family reunification; as the case has it now, after any resubmission) or its
    country of return (AVRR), against the country of the movement's ``arrival_airport``.  A
    family bound for Norway is not put on a return charter to Erbil.

    Judged only where both are known.  The movement's ``arrival_country`` is derived by the API
    from the IATA airports table when the movement is created, and the case's country comes in
    its facts (``activities.movements.facts_of``); a movement created before the rule has no
    ``arrival_country`` (its recorded ``MovementCreated`` carries none) and facts recorded before
    it carry no country, so every recorded history decides as it did: no ``workflow.patched``
    gate is needed (tests/test_replay.py replays them).  A movement created before the rule is
    not checked, even for a case added after it."""
    flight = details.arrival_country
    if facts.destination_country is not None:
        country, what = facts.destination_country, "is bound for"
    elif facts.return_country is not None:
        country, what = facts.return_country, "returns to"
    else:
        return []
    if flight is None or country == flight:
        return []
    return [Problem(case_id=facts.case_id, rule="destination",
                    message=f"case {facts.case_id} {what} {country}; the flight lands at {details.arrival_airport} "
                            f"in {flight}")]


def exit_permission_problems(facts: CaseFacts, details: MovementDetails) -> list[Problem]:
    """The host state's exit permission, where the case needs one: recorded, and valid on the
    day of travel (in the departure airport's zone)."""
    required = facts.exit_permission_required
    if required is None:
        return []
    until = facts.exit_permission_valid_until
    day = details.travel_day()
    if until is None:
        return [Problem(case_id=facts.case_id, rule="exit_permission",
                        message=f"case {facts.case_id}: the {required} is not recorded")]
    if until < day:
        return [Problem(case_id=facts.case_id, rule="exit_permission",
                        message=f"case {facts.case_id}: the {required} is valid until {until.isoformat()}, "
                                f"before the day of travel {day.isoformat()}")]
    return []


def lock_problems(state: MovementState, facts: list[CaseFacts]) -> list[Problem]:
    """Every case of the manifest checked again, as it stands now; capacity over the whole."""
    problems: list[Problem] = []
    for f in facts:
        problems += [p for p in case_problems(state, f, seats_left=state.details.seat_capacity, listed=state.entry(f.case_id))
                     if p.rule != "capacity"]
    total = sum(sum(1 for m in manifest_members(f, state.details) if not m.lap_infant) for f in facts if f.found)
    if total > state.details.seat_capacity:
        problems.append(Problem(case_id="*", rule="capacity",
                                message=f"the manifest needs {total} seats; the movement has {state.details.seat_capacity}"))
        # Who a delay took off a lap, named (the message only: the same refusal as before).
        problems += [p for p in seat_problems(state) if p.rule == "capacity" and p.member_id is not None]
    return problems


def unbooked_problems(state: MovementState, not_boarded: set[str]) -> list[Problem]:
    """Each case of a locked manifest whose booking on the flight was not applied (its case
    refused it: on hold during the lock's or a delay's fan-out, say), unless recorded as not
    boarded: the departure would skip it while the manifest and its exports said it flew.
    The officer takes it off (nothing to undo on the case) or records it not boarded."""
    return [Problem(case_id=e.case_id, rule="not_booked",
                    message=f"case {e.case_id} is not booked on the flight ("
                            f"{(e.booking.reason if e.booking else None) or 'its booking was not recorded'}): take it "
                            "off the manifest, or record it as not boarded")
            for e in state.manifest
            if (e.booking is None or not e.booking.applied) and e.case_id not in not_boarded]


def early_departure_problems(details: MovementDetails, departed_at: datetime) -> list[Problem]:
    """A ``departed_at`` more than ``EARLIEST_DEPARTURE_BEFORE_SCHEDULE`` before the scheduled
    ``departure_at`` (a slip of the day, or a flight brought forward whose new time was never
    recorded): refused, naming the field, the scheduled time and what to do.  A delay only moves
    a flight later (``decide._delay``), so a flight brought forward is a new movement: this one
    cancelled (its cases back to rebooking) and one created with the earlier time, before it
    leaves (a movement is created before its flight).  Judged by the departure Update's
    validator only (``workflows.movement``): histories that departed early replay as they ran."""
    scheduled = details.departure_at
    earliest = scheduled - EARLIEST_DEPARTURE_BEFORE_SCHEDULE
    if departed_at >= earliest:
        return []
    hours = (scheduled - departed_at).total_seconds() / 3600
    hours_text = f"{hours:.0f}" if hours >= 10 else f"{hours:.1f}"
    hours_limit = int(EARLIEST_DEPARTURE_BEFORE_SCHEDULE.total_seconds() // 3600)
    return [Problem(case_id="*", rule="departure_too_early", field="departed_at", message=(
        f"{departed_at.isoformat()} is {hours_text} hours before the scheduled departure "
        f"({scheduled.isoformat()}): a flight does not leave more than {hours_limit} hours early, so "
        f"departed_at must be {earliest.isoformat()} or later.  Check the date; if the flight was brought "
        "forward, a delay cannot record that (it only moves a flight later): cancel this movement and create "
        "one with the earlier time before it leaves, then add and lock its cases again"))]


def departure_problems(state: MovementState, facts: list[CaseFacts], *, on_hold_blocks: bool = True) -> list[Problem]:
    """Whether every booked case can take the departure (a no-show too: both complete its
    ``record_departure`` task).  A case that already shows its departure is no problem.  A
    case on hold is one only for histories decided between the departure rules and
    ``held-cases-depart-v1`` (``on_hold_blocks``): since then its workflow records a departure
    its movement fans out even on hold, a fact, so the family departs with its flight."""
    problems: list[Problem] = []
    for f in facts:
        if f.departed_at is not None:
            continue
        if not f.found or f.status == CaseStatus.CLOSED:
            problems.append(Problem(case_id=f.case_id, rule="case_closed", message=f"case {f.case_id} is closed"))
        elif on_hold_blocks and f.on_hold:
            problems.append(Problem(case_id=f.case_id, rule="case_on_hold",
                                    message=f"case {f.case_id} is on hold: a supervisor resumes it, or take it off "
                                            "the manifest"))
        elif f.booked_flight != state.details.flight_number or f.booked_departure_at != state.details.departure_at:
            problems.append(Problem(case_id=f.case_id, rule="booking_changed",
                                    message=f"case {f.case_id} is no longer booked on {state.details.flight_number}"))
        elif DEPARTURE_TASK not in f.open_tasks:
            unchecked = [m for m in f.members if m.fit_to_travel_at is None]
            if unchecked:
                problems += [Problem(case_id=f.case_id, rule="not_ready_to_depart", member_id=m.member_id,
                                     member_name=m.full_name,
                                     message=f"{m.full_name}: no fit-to-travel check within the 72 hours before "
                                             "the flight") for m in unchecked]
            else:
                problems.append(Problem(case_id=f.case_id, rule="not_ready_to_depart",
                                        message=f"case {f.case_id} is not ready to depart: open first "
                                                f"{', '.join(sorted(f.open_tasks)) or 'nothing'}"))
    return problems


def departure_time_problems(facts: list[CaseFacts], departed_at: datetime, no_shows: set[str]) -> list[Problem]:
    """Whether ``departed_at`` is a time every departing person can have left at: after their
    fit-to-travel check and within its 72 hours, as each case judges its own departure.  A
    departure dated before the checks (days early, before the lock) was recorded by the
    movement and then refused by every case, which left the movement departed and no case so."""
    problems: list[Problem] = []
    for f in facts:
        if f.departed_at is not None or f.case_id in no_shows:
            continue
        for member in f.members:
            at = member.fit_to_travel_at
            if at is not None and departed_at - FIT_TO_TRAVEL_WINDOW <= at <= departed_at:
                continue
            when = f"was checked fit to travel at {at.isoformat()}" if at else "has no fit-to-travel check"
            problems.append(Problem(case_id=f.case_id, rule="not_ready_to_depart", member_id=member.member_id,
                                    member_name=member.full_name, field="departed_at",
                                    message=f"{member.full_name} {when}: a departure at {departed_at.isoformat()} "
                                            "must come after the check, within 72 hours of it"))
    return problems
