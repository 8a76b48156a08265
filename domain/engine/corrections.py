"""Correcting a member's recorded data: validated as a whole member, recorded with what it was."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from pydantic import ValidationError

from domain import events as ev
from domain.engine.commands import CorrectMember
from domain.engine.context import in_force
from domain.engine.draft import Draft, reject
from domain.engine.flow import advance, cancel_escalations_of, in_flow, next_step
from domain.engine.form_validation import form_rejection
from domain.errors import RejectionCode
from domain.model import EDGE_TODAY, CaseStatus, MemberIn, ReferralFieldError, Relationship, entered_birth_problem
from domain.programmes.registry import definition_of, profile_of

CORRECTABLE_MEMBER_FIELDS = ("full_name", "date_of_birth", "sex", "nationality", "relationship")


def decide_correction(draft: Draft, command: CorrectMember) -> None:
    state = draft.s
    member = state.member(command.member_id)
    if member is None:
        raise reject(RejectionCode.MEMBER_NOT_FOUND, f"case {state.case_id} has no member {command.member_id}")
    unknown = sorted(set(command.changes) - set(CORRECTABLE_MEMBER_FIELDS))
    if unknown or not command.changes:
        raise reject(RejectionCode.INVALID_FORM, "changes may hold only " + ", ".join(CORRECTABLE_MEMBER_FIELDS),
                     [{"field": f"changes.{f}", "reason": "not a correctable field",
                       "allowed": list(CORRECTABLE_MEMBER_FIELDS)} for f in unknown] or
                     [{"field": "changes", "reason": "nothing to correct"}])
    current = MemberIn.model_validate(member.model_dump(exclude={"member_id"}))
    try:
        # A date of birth in the future is an admission rule (validators only: a correction
        # recorded before the rule existed still replays as it was decided).
        today = {"today": draft.ctx.today(state.office_time_zone)} if draft.ctx.admission_rules else None
        corrected = MemberIn.model_validate({**current.model_dump(), **command.changes}, context=today)
    except ValidationError as exc:
        raise form_rejection("member correction", exc, prefix="changes") from None
    if draft.ctx.admission_rules and "date_of_birth" in command.changes:
        # A corrected date of birth is typed in now: not more than OLDEST_AGE_YEARS before today.
        # An admission rule (its bound moves with the day): corrections recorded before it, and
        # the recorded member's other fields, are never judged by it.
        _plausible_when_entered(corrected.date_of_birth, draft.ctx.today(state.office_time_zone))
    if draft.ctx.admission_rules and {"relationship", "date_of_birth"} & set(command.changes):
        _joins_as_referred(draft, member.member_id, corrected, set(command.changes))
    others = [m for m in state.members if m.member_id != member.member_id]
    principals = sum(m.relationship == Relationship.PRINCIPAL for m in others) + (
        corrected.relationship == Relationship.PRINCIPAL)
    if principals != 1 and not profile_of(state).members_join_sponsor:
        raise reject(RejectionCode.INVALID_FORM, "a case has exactly one principal applicant",
                     [{"field": "changes.relationship", "reason": "would leave the case without exactly one principal"}])
    before = current.model_dump(mode="json")
    changed = {k: v for k, v in corrected.model_dump(mode="json").items() if v != before[k]}
    if not changed:
        raise reject(RejectionCode.INVALID_FORM, "the correction changes nothing",
                     [{"field": "changes", "reason": "every value is already recorded"}])
    draft.emit(ev.MemberDataCorrected(member_id=member.member_id, changes=changed,
                                      previous={k: before[k] for k in changed}, reason=command.reason))
    if "date_of_birth" in changed:
        _drop_tasks_no_longer_asked(draft, member.member_id, corrected.full_name)


def _drop_tasks_no_longer_asked(draft: Draft, member_id: str, name: str) -> None:
    """The stage's per-person tasks of ``member_id`` that its next step no longer asks of them
    once their date of birth is corrected (an orientation for a child now under the age rule)
    are cancelled, and the case moves on as the stage's flow says: it no longer waits for work
    the programme does not ask.  A task of another type than the step's is left alone."""
    state = draft.s
    step = next_step(state, state.stage, draft.ctx)
    profile = profile_of(state)
    stale = [t for t in state.open_tasks
             if t.member_id == member_id and t.stage == state.stage and in_flow(state, t)
             and profile.spec(t.task_type).per_member
             and (step is None or (step[0] == t.task_type and member_id not in step[1]))]
    # A held case is left as it is: its work waits for the resume, which moves nothing on.
    if not stale or state.status == CaseStatus.ON_HOLD or not in_force(draft.ctx.correction_reprunes):
        return
    for task in stale:
        reason = f"no longer asked of {name} after the correction of the date of birth"
        draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=reason))
        cancel_escalations_of(draft, task.task_id, reason)
    advance(draft)


def _plausible_when_entered(born: date, today: date) -> None:
    problem = entered_birth_problem(born, today)
    if problem is not None:
        reason, allowed = problem
        raise reject(RejectionCode.INVALID_FORM, f"changes.date_of_birth: {reason}",
                     [{"field": "changes.date_of_birth", "reason": reason, "allowed": allowed}])


def _joins_as_referred(draft: Draft, member_id: str, corrected: MemberIn, changed: set[str]) -> None:
    """A programme whose members join a sponsor (family reunification) judges who may join
    at referral (relationship, age on the day, one spouse); a correction of the relationship
    or the date of birth is judged by the same rule, for the corrected member, so that it
    cannot make a case the referral would have refused (an 11-year-old "spouse").  An
    admission rule (validators only: corrections recorded before it replay as decided)."""
    state = draft.s
    if not profile_of(state).members_join_sponsor:
        return
    sponsor = getattr(state.programme_data, "sponsor", None) or {}
    born = sponsor.get("date_of_birth")
    as_referred = SimpleNamespace(
        programme=state.programme, destination_country=state.destination_country, origin_country=None,
        members=[corrected], sponsor=SimpleNamespace(date_of_birth=date.fromisoformat(born) if born else None))
    token = EDGE_TODAY.set(draft.ctx.today(state.office_time_zone))
    try:
        definition_of(state.programme).check_referral(as_referred)
    except ReferralFieldError as exc:
        field = exc.loc[-1] if exc.loc[:1] == ("members",) else ".".join(map(str, exc.loc))
        if field not in changed:  # the rule names the other half of the pair: name what was corrected
            field = "relationship" if "relationship" in changed else "date_of_birth"
        raise reject(RejectionCode.INVALID_FORM, f"the corrected member may not join the sponsor: {exc}",
                     [{"field": f"changes.{field}", "reason": str(exc).split(": ", 1)[-1]}]) from None
    finally:
        EDGE_TODAY.reset(token)
    spouses = [m for m in state.members if m.relationship == Relationship.SPOUSE and m.member_id != member_id]
    if corrected.relationship == Relationship.SPOUSE and spouses:
        raise reject(RejectionCode.INVALID_FORM, "only one spouse may join the sponsor",
                     [{"field": "changes.relationship", "reason": f"{spouses[0].full_name} joins as the spouse"}])
