"""Properties of the pure case core, for any history of commands (Hypothesis; no servers).

Each example refers a case (resettlement or AVRR) and sends it a generated mix of commands
at times that move forward by minutes to months: task completions with valid forms (every
outcome of every branch), with forms broken against their own JSON Schema, with forms whose
outcome or dates were changed, for open, completed, cancelled and unknown tasks; clock ticks
(at the case's deadlines, as the workflow's timer fires them, or at random later moments, as
after a worker outage); holds, resumes, notes, withdrawals, reassignments, member
corrections, consent withdrawals and the referral sent again.  After every decision:

1. The command was refused (``CommandRejected``) and the state it was given is unchanged,
   or it decided events whose fold is a valid case state (``check_state``: the CaseState
   model round trip, version = event count, gap-free seqs, open tasks of the current stage,
   a closed case with no open task, ...).  Clocks are live: after a tick the next deadline
   lies after it, and a tick before the next deadline has nothing to do.
2. The state the workflow folds step by step (``fold(new, start=state)``) is the state a
   rebuild folds from the first event; ``evolve`` gives it too, and ``fold(as_of=t)`` gives
   the state the case had at earlier moments t.
3. ``decide`` is deterministic: the same state, command and context decide the same events
   (or the same refusal); the workflow's validator (admission rules on) and its handler
   (fresh ids from workflow.uuid4(), admission rules off) decide the same events but for
   their ids.
4. Events survive the event store: each round-trips through JSON and through the store's
   columns plus JSONB payload, and the fold of what is read back is the workflow's state.

One history checks all four (generating it is most of the cost).  Reproducible in CI:
``derandomize=True``, no example database.  A deeper local run:
``ITINERA_PROPERTY_EXAMPLES=1000 .venv/bin/python -m pytest tests/test_core_properties.py``;
``ITINERA_PROPERTY_SHRINK=0`` reports a failing history as found, without minimising it.

Three defects the properties found (two supervisor reviews of one case, a refused visa
bypassed by a clearance expiry, escalations outliving the tasks a refusal cancelled) are
fixed behind ``DecisionContext.review_rules``; their minimal command sequences are at the
end of this file, each with the rules on (fixed) and off (as recorded cases replay).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from domain.arrival_day import earliest_arrival_day
from domain.programmes.avrr.state import AvrrProgress
from domain.programmes.family_reunification.flow import CLOSURE_REASONS as FAMILY_CLOSURE_REASONS
from domain.programmes.family_reunification.state import FamilyReunificationData
from domain import case as core
from domain import events as ev
from domain.case import CaseState, DecisionContext, decide, fold, next_deadline
from domain.errors import CommandRejected, RejectionCode
from domain.identity import case_id_for
from domain.model import Actor, CaseStatus, Programme, Referral, Relationship, Stage
from domain.programmes import definition_of, profile_of
from domain.tasks import TASK_SPECS, TaskType
from tests.support import core_strategies as cs
from tests.support.factories import referral as referral_body
from tests.support.forms import example_form

# --- settings ----------------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("ITINERA_PROPERTY_EXAMPLES", "40"))
MAX_STEPS = int(os.environ.get("ITINERA_PROPERTY_STEPS", "120"))

settings.register_profile(
    "itinera-core",
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples on every run and every machine
    database=None,  # database-free: nothing written to or read from .hypothesis/
    deadline=None,  # one example is a whole case history
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "itinera-core-explore", settings.get_profile("itinera-core"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],  # no shrinking
)
CORE = settings(settings.get_profile(
    "itinera-core-explore" if os.environ.get("ITINERA_PROPERTY_SHRINK", "1") == "0" else "itinera-core"))

CASE_LEVEL_TASKS = {TaskType.RESOLVE_ESCALATION}  # opened beside whatever stage the case is in
OUTCOME_REASONS = {"arrived", "reintegration_completed", "monitoring_completed"}


# --- the invariants of a case state ------------------------------------------------------------


def check_state(state: CaseState, history: list[ev.RecordedEvent]) -> None:
    """What is true of every state a fold of accepted events reaches."""
    # It is a CaseState: it validates again, and survives the JSON that carries it as a
    # Temporal payload (continue-as-new) and to the projection.
    dumped = state.model_dump()
    assert CaseState.model_validate(dumped).model_dump() == dumped
    assert CaseState.model_validate_json(state.model_dump_json()).model_dump() == dumped

    # Its version is its event count; the stream is numbered 1, 2, 3, ... with distinct ids.
    assert state.version == len(history)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert len({e.event_id for e in history}) == len(history)
    assert all(e.case_id == state.case_id for e in history)
    assert isinstance(history[0].event, ev.CaseReferred)
    assert not any(isinstance(e.event, ev.CaseReferred) for e in history[1:])
    assert all(a.occurred_at <= b.occurred_at for a, b in zip(history, history[1:]))
    assert state.updated_at == history[-1].occurred_at

    profile = profile_of(state)
    rank = profile.rank
    assert state.stage in profile.stages
    assert (isinstance(state.programme_data, AvrrProgress)) == (state.programme == Programme.AVRR)
    if state.programme == Programme.AVRR:
        assert state.destination_country is None and state.origin_country is not None
    else:
        assert state.destination_country is not None

    # Members: exactly one principal (none where they join a sponsor), one progress entry each.
    assert sum(m.relationship == Relationship.PRINCIPAL for m in state.members) == (
        0 if profile.members_join_sponsor else 1)
    assert set(state.progress) == {m.member_id for m in state.members}
    assert len({m.member_id for m in state.members}) == len(state.members)

    # Tasks: numbered T01, T02, ... in the order they opened, of the case's programme, for a
    # member exactly when the type is per member, with the times and people of their status.
    assert state.task_counter == len(state.tasks)
    assert list(state.tasks) == [f"{state.case_id}-T{n:02d}" for n in range(1, len(state.tasks) + 1)]
    for task in state.tasks.values():
        spec = TASK_SPECS[task.task_type]
        assert task.task_type in _programme_tasks(state.programme), f"{task.task_type} in a {state.programme} case"
        if spec.stage is not None:
            assert task.stage == spec.stage
        if spec.per_member:
            assert task.member_id in state.progress, f"{task.task_id} is per member but has {task.member_id}"
        else:
            assert task.member_id is None
        assert (task.escalated_task_id is not None) == (task.task_type == TaskType.RESOLVE_ESCALATION)
        if task.escalated_task_id is not None:
            assert task.escalated_task_id in state.tasks
        if task.status == "open":
            assert task.completed_at is None and task.completed_by is None
        else:
            assert task.completed_at is not None and task.completed_at >= task.opened_at
            assert (task.completed_by is not None) == (task.status == "completed")
        if task.overdue:
            assert spec.escalates

    open_tasks = state.open_tasks
    if state.status == CaseStatus.CLOSED:
        assert state.stage == Stage.CLOSED
        assert state.closure_reason in ev.CLOSURE_REASONS + FAMILY_CLOSURE_REASONS
        assert state.closed_at is not None and state.held_at is None
        assert not open_tasks, f"a closed case has open tasks {[t.task_id for t in open_tasks]}"
        assert next_deadline(state) is None
        if state.closure_reason in OUTCOME_REASONS:
            assert state.arrived_on is not None and state.departed_at is not None
        if state.closure_reason == "consent_withdrawn":
            assert state.programme_data.consent == "withdrawn"
        return
    assert state.stage != Stage.CLOSED and state.closure_reason is None and state.closed_at is None
    assert (state.status == CaseStatus.ON_HOLD) == (state.held_at is not None)
    assert (state.status == CaseStatus.ON_HOLD) == (state.hold_reason is not None)
    if isinstance(state.programme_data, AvrrProgress):
        assert state.programme_data.consent != "withdrawn"

    # Every open task belongs to the stage the case is in, or is a case-level task.
    for task in open_tasks:
        assert task.stage == state.stage or task.task_type in CASE_LEVEL_TASKS, (
            f"open task {task.task_id} ({task.task_type}) of stage {task.stage} in stage {state.stage}")
    # An escalation is open only while the task it escalates is open.
    for task in open_tasks:
        if task.escalated_task_id is not None:
            escalated = state.tasks[task.escalated_task_id]
            assert escalated.status == "open", (
                f"escalation {task.task_id} open for {escalated.task_id}, which is {escalated.status}")
    # No task is open twice for the same person (or twice for the case): one supervisor
    # review per decision point.  Monitoring visits are one task per visit (a visit not yet
    # recorded when the next falls due stays open beside it).
    seen = [(t.task_type, t.member_id) for t in open_tasks if t.task_type not in CASE_LEVEL_TASKS
            and t.task_type != TaskType.RECORD_MONITORING_VISIT]
    assert len(seen) == len(set(seen)), f"the same task open twice: {sorted(seen)}"
    if isinstance(state.programme_data, AvrrProgress):
        visits = [v.task_id for v in state.programme_data.monitoring if v.task_id is not None]
        assert len(visits) == len(set(visits))
        assert {t.task_id for t in open_tasks if t.task_type == TaskType.RECORD_MONITORING_VISIT} <= set(visits)
    # In the visa stage a refusal (visa, travel document, exit permission) waits for the
    # supervisor: its review is open.
    refused = any(p.visa == "refused" for p in state.progress.values()) or (
        isinstance(state.programme_data, AvrrProgress) and state.programme_data.exit_permission == "refused")
    if state.stage == Stage.VISA and refused:
        assert any(t.task_type == TaskType.REVIEW_OUTCOME for t in open_tasks), (
            f"a refusal in the visa stage without its review: open {[str(t.task_type) for t in open_tasks]}")

    # A case past a stage has what that stage was for.
    if isinstance(state.programme_data, FamilyReunificationData):
        _check_family_stages(state)
        assert state.status != CaseStatus.ACTIVE or open_tasks or next_deadline(state) is not None, "stuck"
        return
    a = state.programme_data if isinstance(state.programme_data, AvrrProgress) else None
    if rank(state.stage) > rank(Stage.REFERRAL):
        assert (state.programme_data.referral_verified if a is None else a.counselled_on is not None and a.consent == "given")
    if rank(state.stage) > rank(Stage.INTERVIEW):
        assert (state.programme_data.interview == "accepted" if a is None else
                a.eligibility == "eligible" and a.vulnerability_screened)
    if rank(state.stage) > rank(Stage.HEALTH) and state.departed_at is None:
        assert all(p.health == "cleared" for p in state.progress.values()), (
            f"in {state.stage} with health {[p.health for p in state.progress.values()]}")
    if rank(state.stage) > rank(Stage.ORIENTATION):
        assert (all(p.orientation == "attended" for p in state.progress.values()) if a is None
                else a.predeparture_counselled)
    if rank(state.stage) > rank(Stage.VISA) and state.departed_at is None:
        visas = [p.visa for p in state.progress.values()]
        assert all(v == "issued" for v in visas), f"in {state.stage} with visas {visas}"
        if a is not None:
            assert a.exit_permission == "granted"
    if rank(state.stage) > rank(Stage.MOVEMENT):
        assert state.departed_at is not None
    if state.departed_at is not None:
        assert rank(state.stage) > rank(Stage.MOVEMENT)
    if state.arrived_on is not None:
        assert state.departed_at is not None and state.arrived_on >= earliest_arrival_day(state.departed_at)
    if rank(state.stage) > rank(Stage.ARRIVAL):
        assert state.arrived_on is not None
    if state.movement is None:
        assert state.fit_to_travel_opens_at is None
    if state.fit_to_travel_opens_at is not None:
        assert state.stage == Stage.MOVEMENT

    # An active case is never stuck: someone has a task, or the clock will act.
    if state.status == CaseStatus.ACTIVE:
        assert open_tasks or next_deadline(state) is not None, f"stuck in {state.stage} with nothing to do"


def _check_family_stages(state: CaseState) -> None:
    """Family reunification: a case past a stage has what that stage was for."""
    rank, f = profile_of(state).rank, state.programme_data
    if rank(state.stage) > rank(Stage.REFERRAL):
        assert all(m.eligibility == "eligible" for m in f.members.values())
    if rank(state.stage) > rank(Stage.DOCUMENTS):
        assert all(m.checklist_recorded for m in f.members.values())
    if rank(state.stage) > rank(Stage.EMBASSY_APPOINTMENT):
        assert f.appointment is not None and f.appointment.outcome == "attended"
        assert all(not m.missing for m in f.members.values()), "an appointment with documents missing"
    if rank(state.stage) > rank(Stage.VISA) and state.departed_at is None:
        assert all(p.visa == "issued" for p in state.progress.values())
        assert not any(m.age_out == "flagged" for m in f.members.values()), "past the visa with an age-out open"
    if state.departed_at is not None:
        assert rank(state.stage) > rank(Stage.MOVEMENT)
    if rank(state.stage) > rank(Stage.ARRIVAL):
        assert state.arrived_on is not None
    flagged = {m for m, file in f.members.items() if file.age_out == "flagged"}
    assert flagged <= {t.member_id for t in state.open_tasks if t.task_type == "review_age_out"}, (
        "a flagged child without the supervisor's review")


def _programme_tasks(programme: Programme) -> set[TaskType]:
    if programme == "family_reunification":
        return set(definition_of(programme).task_specs)
    resettlement_only = {TaskType.VERIFY_REFERRAL, TaskType.CONDUCT_INTERVIEW, TaskType.ASSESS_HEALTH,
                         TaskType.RECORD_ORIENTATION, TaskType.RECORD_VISA, TaskType.RECORD_HOST_EXIT_PERMISSION}
    shared = {TaskType.REVIEW_OUTCOME, TaskType.RESOLVE_ESCALATION, TaskType.RECORD_TREATMENT,
              TaskType.BOOK_MOVEMENT, TaskType.CHECK_FIT_TO_TRAVEL, TaskType.RECORD_DEPARTURE,
              TaskType.CONFIRM_ARRIVAL}
    return resettlement_only | shared if programme == Programme.RESETTLEMENT else set(TaskType) - resettlement_only


# --- a case history, decided command by command ------------------------------------------------


@dataclass
class Decision:
    """One decision as the workflow takes it, for the per-step properties."""

    step: cs.Step
    now: datetime
    before: CaseState | None
    first_id: int  # the event-id counter the decision started from
    outcome: list[ev.RecordedEvent] | CommandRejected


@dataclass
class CaseRun:
    """A case as the workflow holds it (the state folded step by step) and its event stream."""

    now: datetime
    state: CaseState | None = None
    events: list[ev.RecordedEvent] = field(default_factory=list)
    stored: list[ev.RecordedEvent] = field(default_factory=list)  # the events as the store reads them back
    snapshots: list[tuple[datetime, int, dict]] = field(default_factory=list)  # the last state at each moment
    next_id: int = 1
    checks: list[Callable[[CaseRun, Decision], None]] = field(default_factory=list)

    def send(self, step: cs.Step, *, now: datetime | None = None) -> list[ev.RecordedEvent] | CommandRejected:
        """Decide and apply one command, and check property 1 for it.  The admission rules
        are on, as in the workflow's validator: a refusal here is one a caller would see."""
        now = now or self.now
        before_state, before = self.state, _dump(self.state)
        ctx = DecisionContext(now=now, actor=step.actor, new_event_id=cs.event_ids(self.next_id))
        try:
            outcome: list[ev.RecordedEvent] | CommandRejected = decide(self.state, step.command, ctx)
        except CommandRejected as rejection:
            outcome = rejection
        decision = Decision(step, now, before_state, self.next_id, outcome)
        if isinstance(outcome, CommandRejected):
            note(f"{now.isoformat()} {step.actor.id}: {step.intent} -> refused {outcome.code.value}: "
                 f"{outcome.message[:200]}")
            assert _dump(self.state) == before, f"property 1: the refused command ({step.intent}) changed the state"
            assert isinstance(outcome.code, RejectionCode) and outcome.message
            if step.must_reject:
                assert outcome.code == RejectionCode.INVALID_FORM, (
                    f"a schema-invalid form ({step.intent}) was refused with {outcome.code}, not invalid_form")
            event(f"refused: {outcome.code.value}")
        else:
            note(f"{now.isoformat()} {step.actor.id}: {step.intent} -> {[e.type for e in outcome]}")
            assert _dump(self.state) == before, f"property 1: decide modified the state it was given ({step.intent})"
            assert not step.must_reject, (
                f"a form that breaks its JSON Schema was accepted: {step.intent} {getattr(step.command, 'form', None)}")
            if outcome:
                version = self.state.version if self.state is not None else 0
                assert [e.seq for e in outcome] == list(range(version + 1, version + len(outcome) + 1))
                assert all(e.occurred_at == now and e.actor == step.actor for e in outcome)
                new_state = fold(outcome, start=self.state)
                assert _dump(self.state) == before, "property 1: fold modified the state it started from"
                assert new_state is not None
                self.state = new_state
                self.events += outcome
                self.next_id += len(outcome)
                check_state(self.state, self.events)
                if self.snapshots and self.snapshots[-1][0] == now:
                    self.snapshots.pop()
                self.snapshots.append((now, self.state.version, self.state.model_dump()))
        for check in self.checks:
            check(self, decision)
        return outcome


def _dump(state: CaseState | None) -> dict | None:
    return state.model_dump() if state is not None else None


# --- properties 2 to 4, after every decision ---------------------------------------------------


def check_rebuild(run: CaseRun, d: Decision) -> None:
    """Property 2: the incremental fold is the fold from the first event (and "as of now")."""
    if isinstance(d.outcome, CommandRejected) or not d.outcome:
        return
    assert fold(run.events).model_dump() == run.state.model_dump(), (
        "property 2: the state folded from the first event differs from the workflow's")


def check_determinism(run: CaseRun, d: Decision) -> None:
    """Property 3: the same decision again gives the same answer; the validator's context and
    the handler's decide the same events but for their ids."""

    def again(new_event_id: Callable[[], str], admission_rules: bool = True) -> list[ev.RecordedEvent] | CommandRejected:
        ctx = DecisionContext(now=d.now, actor=d.step.actor, new_event_id=new_event_id, admission_rules=admission_rules)
        try:
            return decide(d.before, d.step.command, ctx)
        except CommandRejected as exc:
            return exc

    same = again(cs.event_ids(d.first_id))
    if isinstance(d.outcome, CommandRejected):
        assert isinstance(same, CommandRejected), "property 3: a refused command was accepted when decided again"
        assert (same.code, same.message, same.details) == (d.outcome.code, d.outcome.message, d.outcome.details)
        return
    assert same == d.outcome, "property 3: the same command in the same context decided other events"
    # The workflow's validator decides with the admission rules on; its handler with them off
    # and with fresh ids from workflow.uuid4(): the same events but for their ids.
    handler = again(lambda: str(uuid.uuid4()), admission_rules=False)
    assert not isinstance(handler, CommandRejected), "property 3: the handler refused what the validator accepted"
    assert _without_ids(handler) == _without_ids(d.outcome), (
        "property 3: the event ids or the admission rules changed what a command decides")


def _without_ids(events: list[ev.RecordedEvent]) -> list[ev.RecordedEvent]:
    return [e.model_copy(update={"event_id": "-"}) for e in events]


def check_event_store(run: CaseRun, d: Decision) -> None:
    """Property 4: events round-trip through JSON and through the event store, and the fold of
    the stream as read back is the workflow's state."""
    if isinstance(d.outcome, CommandRejected) or not d.outcome:
        return
    for recorded in d.outcome:
        back = ev.RecordedEvent.model_validate_json(recorded.model_dump_json())
        assert back == recorded and back.model_dump() == recorded.model_dump(), f"property 4: {recorded.type}"
        assert back.model_dump_json() == recorded.model_dump_json()
        run.stored.append(_through_the_store(recorded))
    assert fold(run.stored).model_dump() == run.state.model_dump(), (
        "property 4: the fold of the stored events differs from the workflow's state")


def _through_the_store(recorded: ev.RecordedEvent) -> ev.RecordedEvent:
    """What ``store.projection`` writes (columns, and ``event.model_dump_json()`` into JSONB,
    which keeps no key order) and ``load_events`` reads back (timestamptz in UTC)."""
    payload = json.loads(json.dumps(json.loads(recorded.event.model_dump_json()), sort_keys=True))
    return ev.RecordedEvent(
        event_id=recorded.event_id, case_id=recorded.case_id, seq=recorded.seq,
        occurred_at=recorded.occurred_at.astimezone(UTC),
        actor={"kind": recorded.actor.kind.value, "id": recorded.actor.id, "role": recorded.actor.role},
        event=payload,
    )


# --- clocks ------------------------------------------------------------------------------------


def fire_timers(run: CaseRun, until: datetime) -> None:
    """Fire the case's timer up to ``until`` as the workflow does: a Tick at each deadline."""
    for _ in range(500):
        deadline = next_deadline(run.state)
        if deadline is None or deadline > until:
            return
        at = max(deadline, run.now)
        run.send(cs.Step(core.Tick(), Actor.system(), f"timer for {deadline.isoformat()}"), now=at)
        run.now = at
        check_clock_moved_on(run)
    raise AssertionError("more than 500 timers fired in one step")


def check_clock_moved_on(run: CaseRun) -> None:
    """After a tick the next deadline lies after it: else the workflow's timer would fire at
    once, decide nothing, and fire again, forever."""
    after = next_deadline(run.state)
    assert after is None or after > run.now, (
        f"after a tick at {run.now.isoformat()} the next deadline is still {after.isoformat()}")


def check_tick_before_deadline_is_idle(run: CaseRun) -> None:
    """``next_deadline`` misses nothing: before it, a tick has nothing to do (the workflow only
    wakes at the deadline, so anything due earlier would wait for it)."""
    deadline = next_deadline(run.state)
    if deadline is not None and deadline <= run.now:
        return  # a late tick is due: the timers were not fired in this history
    ctx = DecisionContext(now=run.now, actor=Actor.system(), new_event_id=cs.event_ids(run.next_id))
    assert decide(run.state, core.Tick(), ctx) == [], (
        f"a tick at {run.now.isoformat()} decides events, but the next deadline is {deadline}")


# --- the property test ------------------------------------------------------------------------


def run_history(data: st.DataObject, programme: Programme) -> CaseRun:
    refer = data.draw(cs.refer_commands(programme), label="referral")
    run = CaseRun(now=data.draw(cs.start_times(), label="start"),
                  checks=[check_rebuild, check_determinism, check_event_store])
    timers = data.draw(st.sampled_from(("workflow", "workflow", "late")), label="timers")
    outcome = run.send(cs.Step(refer, data.draw(cs.actors()), "refer"))
    assert isinstance(outcome, list) and outcome, "a first referral is never refused"
    after_closure: int | None = None  # a few more commands for a closed case, then stop
    for _ in range(data.draw(st.integers(MAX_STEPS // 4, MAX_STEPS), label="steps")):
        assert run.state is not None
        moment = run.now + data.draw(cs.time_steps())
        if timers == "workflow":
            fire_timers(run, moment)
        run.now = moment
        if timers == "workflow":
            check_tick_before_deadline_is_idle(run)
        step = data.draw(cs.commands(run.state, run.now, refer))
        outcome = run.send(step)
        if isinstance(step.command, core.Tick) and isinstance(outcome, list):
            check_clock_moved_on(run)
        if run.state.status == CaseStatus.CLOSED:
            after_closure = after_closure - 1 if after_closure is not None else data.draw(st.integers(0, 3))
            if after_closure <= 0:
                break
    # Property 2 once more: evolve (which copies the state each time) over the last events.
    state = fold(run.events[:-30])
    for recorded in run.events[-30:]:
        state = core.evolve(state, recorded)
    assert state.model_dump() == run.state.model_dump(), "property 2: evolving event by event differs"
    # ... and the case as it stood at earlier moments is the fold of the events up to then.
    for at, version, snapshot in run.snapshots[:: max(1, len(run.snapshots) // 4)]:
        assert fold(run.events, as_of=at).model_dump() == snapshot, f"property 2: the state as of {at} differs"
    _coverage(run)
    return run


def _coverage(run: CaseRun) -> None:
    """What the examples reached: ``pytest --hypothesis-show-statistics``."""
    event(f"final stage: {run.state.stage.value}")
    if run.state.closure_reason:
        event(f"closed: {run.state.closure_reason}")
    reached = {e.type for e in run.events}
    for t in ("TaskOverdue", "MedicalClearanceExpired", "VisaExpired", "TravelDocumentExpired", "CaseResubmitted",
              "FitToTravelChecksScheduled", "CaseDeparted", "MonitoringVisitRecorded", "PriorityRaised",
              "MemberDataCorrected", "CaseResumed", "TaskDueDateChanged", "OutcomeReviewed"):
        if t in reached:
            event(f"reached {t}")


@pytest.mark.parametrize("programme", [Programme.RESETTLEMENT, Programme.AVRR, Programme.FAMILY_REUNIFICATION],
                         ids=lambda p: p.value)
@CORE
@given(data=st.data())
def test_any_command_history_keeps_the_core_properties(programme: Programme, data: st.DataObject) -> None:
    run_history(data, programme)


# --- the schema the invalid forms come from ----------------------------------------------------


@pytest.mark.parametrize("task_type", list(TaskType), ids=lambda t: t.value)
def test_every_schema_violation_of_every_form_example_is_refused(task_type: TaskType) -> None:
    """The invalid forms above are derived from each form's JSON Schema: check, over the
    schema's own examples, that the schema forbids nothing the validation accepts."""
    examples = cs.form_schema(task_type).get("examples", [])
    assert examples, f"the {task_type.value} form has no example in its JSON Schema"
    form_type = TASK_SPECS[task_type].form
    for example in examples:
        form_type.model_validate(example)
        violations = cs.schema_violations(task_type, example)
        assert violations
        for what, broken in violations:
            with pytest.raises(ValueError):
                form_type.model_validate(broken)
                pytest.fail(f"{what}: accepted {broken}")


# --- defects the properties found, fixed behind DecisionContext.review_rules ---------------------

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Case:
    """A case driven through the core by hand, for the minimal reproductions.  ``rules`` is
    the context's ``review_rules``: True (new cases), False (cases recorded before the
    fixes replay so), or a callable, as the workflow passes ``workflow.patched``."""

    def __init__(self, size: int, rules: bool | Callable[[], bool] = True, **body: object) -> None:
        self.ids = cs.event_ids()
        self.rules = rules
        referral = Referral.model_validate(referral_body(size=size, **body))
        self.state = fold(decide(None, ReferCase(referral), self._ctx("ayse", T0)))
        self.events: list[ev.RecordedEvent] = []

    def _ctx(self, who: str, at: datetime) -> DecisionContext:
        return DecisionContext(now=at, actor=Actor(id=who, role="caseworker"), new_event_id=self.ids,
                               review_rules=self.rules)

    def _apply(self, events: list[ev.RecordedEvent]) -> None:
        self.state = fold(events, start=self.state)
        self.events += events

    def complete(self, task_type: TaskType, form: dict | None = None, who: str = "ayse", at: datetime = T0) -> None:
        task = next(t for t in self.state.open_tasks if t.task_type == task_type)
        if form is None:
            undelivered = [i.number for i in self.state.programme_data.plan if i.delivered_on is None] if isinstance(self.state.programme_data, AvrrProgress) else []
            form = example_form(task.model_dump(), at.date(),
                                case={"avrr": {"reintegration_plan": [{"item_number": n, "delivered_on": None}
                                                                      for n in undelivered]}})
            # The example dates a moment at the start of a day that is not today: on the
            # referral's own day that is before the case existed, which the case refuses.
            form |= {n: at.isoformat() for n in ("checked_at", "departed_at")
                     if n in form and datetime.fromisoformat(form[n]) < self.state.referred_at}
        self._apply(decide(self.state, core.CompleteTask(task_id=task.task_id, form=form), self._ctx(who, at)))

    def tick(self, at: datetime) -> None:
        ctx = DecisionContext(now=at, actor=Actor.system(), new_event_id=self.ids, review_rules=self.rules)
        self._apply(decide(self.state, core.Tick(), ctx))

    def open(self, task_type: TaskType | None = None) -> list[str]:
        return [t.task_type.value for t in self.state.open_tasks if task_type is None or t.task_type == task_type]


def ReferCase(body: Referral) -> core.ReferCase:  # noqa: N802
    return core.ReferCase(case_id=case_id_for(body.external_referral_id), referral=body)


def _day(n: int = 0) -> str:
    return (T0.date() + timedelta(days=n)).isoformat()


def _two_not_cleared(rules: bool | Callable[[], bool] = True) -> Case:
    case = Case(size=2, rules=rules)
    case.complete(TaskType.VERIFY_REFERRAL, {"documents_checked": True})
    case.complete(TaskType.CONDUCT_INTERVIEW, {"interview_date": _day(), "outcome": "accepted"})
    case.complete(TaskType.ASSESS_HEALTH, {"assessment_date": _day(), "outcome": "not_cleared"}, who="selin")
    case.complete(TaskType.ASSESS_HEALTH, {"assessment_date": _day(), "outcome": "not_cleared"}, who="selin")
    return case


def test_one_review_after_two_members_are_not_cleared() -> None:
    case = _two_not_cleared()
    reviews = [t for t in case.state.open_tasks if t.task_type == TaskType.REVIEW_OUTCOME]
    assert len(reviews) == 1, f"{len(reviews)} reviews open: {[t.task_id for t in reviews]}"
    # The one review decides for both: "reassess" re-opens both assessments at once.
    case.complete(TaskType.REVIEW_OUTCOME, {"decision": "reassess", "reason": "Second opinion."}, who="fatma")
    assert sorted(t.member_id for t in case.state.open_tasks) == sorted(case.state.progress)
    assert case.open() == [TaskType.ASSESS_HEALTH.value] * 2


def test_one_review_after_two_avrr_members_are_not_fit() -> None:
    case = Case(size=2, programme="avrr", destination_country=None, origin_country="IQ")
    while case.state.stage != Stage.HEALTH:
        case.complete(case.state.open_tasks[0].task_type)
    for _ in range(2):
        case.complete(TaskType.ASSESS_FIT_TO_TRAVEL, {"assessment_date": _day(), "outcome": "not_fit"}, who="selin")
    assert case.open() == [TaskType.REVIEW_OUTCOME.value]
    case.complete(TaskType.REVIEW_OUTCOME, {"decision": "close", "reason": "Not fit."}, who="fatma")
    assert (case.state.status, case.state.closure_reason) == (CaseStatus.CLOSED, "medically_not_cleared")


def _refused_then_clearance_expired(rules: bool | Callable[[], bool] = True, refused_by: str = "ayse") -> Case:
    case = Case(size=1, rules=rules)
    case.complete(TaskType.VERIFY_REFERRAL, {"documents_checked": True})
    case.complete(TaskType.CONDUCT_INTERVIEW, {"interview_date": _day(), "outcome": "accepted"})
    case.complete(TaskType.ASSESS_HEALTH, {"assessment_date": _day(), "outcome": "cleared",
                                           "clearance_valid_until": _day(10)}, who="selin")
    case.complete(TaskType.RECORD_ORIENTATION, {"session_date": _day(), "language": "ar"})
    case.complete(TaskType.RECORD_VISA, {"outcome": "refused", "decided_on": _day(),
                                         "refusal_reason": "Security screening."}, who=refused_by)
    expiry = datetime.combine(date.fromisoformat(_day(11)), datetime.min.time(), tzinfo=UTC)
    case.tick(expiry)  # MedicalClearanceExpired: back to health, the review is cancelled
    assert case.state.stage == Stage.HEALTH and case.open() == [TaskType.ASSESS_HEALTH.value]
    case.complete(TaskType.ASSESS_HEALTH, {"assessment_date": _day(11), "outcome": "cleared",
                                           "clearance_valid_until": _day(200)}, who="selin", at=expiry)
    return case


def test_a_refused_visa_is_not_bypassed_by_a_clearance_expiry() -> None:
    case = _refused_then_clearance_expired()
    visas = [p.visa for p in case.state.progress.values()]
    assert not (case.state.stage == Stage.MOVEMENT and "refused" in visas), (
        f"the case is in {case.state.stage} with visas {visas} and open tasks {case.open()}")
    # Back in the visa stage, the refusal goes to the supervisor again, who decides.
    assert case.state.stage == Stage.VISA and case.open() == [TaskType.REVIEW_OUTCOME.value]
    case.complete(TaskType.REVIEW_OUTCOME, {"decision": "close", "reason": "Refused."}, who="fatma")
    assert (case.state.status, case.state.closure_reason) == (CaseStatus.CLOSED, "visa_refused")


def test_the_four_eyes_rule_holds_for_a_refusal_reviewed_after_a_detour() -> None:
    """Who recorded the refusal may not approve the resubmission, also when its review opened
    again after the detour back to health (and other people's work in between)."""
    case = _refused_then_clearance_expired(refused_by="fatma")
    review = next(t for t in case.state.open_tasks if t.task_type == TaskType.REVIEW_OUTCOME)
    resubmit = core.CompleteTask(task_id=review.task_id, form={"decision": "resubmit", "destination_country": "SE",
                                                               "reason": "Sweden accepts this profile."})
    at = T0 + timedelta(days=12)
    with pytest.raises(CommandRejected) as refused:
        decide(case.state, resubmit, case._ctx("fatma", at))
    assert refused.value.code == RejectionCode.FOUR_EYES
    case.complete(TaskType.REVIEW_OUTCOME, resubmit.form, who="ali", at=at)
    assert case.state.stage == Stage.REFERRAL and case.state.destination_country == "SE"


def _two_overdue_visas_one_refused(rules: bool | Callable[[], bool] = True) -> tuple[Case, datetime]:
    case = Case(size=2, rules=rules)
    case.complete(TaskType.VERIFY_REFERRAL, {"documents_checked": True})
    case.complete(TaskType.CONDUCT_INTERVIEW, {"interview_date": _day(), "outcome": "accepted"})
    for _ in range(2):
        case.complete(TaskType.ASSESS_HEALTH, {"assessment_date": _day(), "outcome": "cleared",
                                               "clearance_valid_until": _day(300)}, who="selin")
    for _ in range(2):
        case.complete(TaskType.RECORD_ORIENTATION, {"session_date": _day(), "language": "ar"})
    overdue = next_deadline(case.state)  # the visa tasks' SLA
    case.tick(overdue)  # both visa tasks overdue: two escalations open
    assert case.open(TaskType.RESOLVE_ESCALATION) == [TaskType.RESOLVE_ESCALATION.value] * 2
    case.complete(TaskType.RECORD_VISA, {"outcome": "refused", "decided_on": overdue.date().isoformat(),
                                         "refusal_reason": "Security screening."}, at=overdue)
    return case, overdue


def test_a_refusal_cancels_the_escalations_of_the_tasks_it_cancels() -> None:
    case, _ = _two_overdue_visas_one_refused()
    orphans = [(t.task_id, t.escalated_task_id) for t in case.state.open_tasks if t.escalated_task_id
               and case.state.tasks[t.escalated_task_id].status != "open"]
    assert not orphans, f"escalations open for tasks no longer open: {orphans}"
    assert case.open() == [TaskType.REVIEW_OUTCOME.value]
    cancelled = [e.event.reason for e in case.events if isinstance(e.event, ev.TaskCancelled)]
    assert cancelled == ["the overdue task was completed", "a visa of the case was refused",
                         "a visa of the case was refused"]  # the refused task's, the other task and its escalation


def test_an_avrr_refusal_cancels_the_escalations_of_the_tasks_it_cancels() -> None:
    case = Case(size=2, programme="avrr", destination_country=None, origin_country="IQ")
    while case.state.stage != Stage.VISA:
        case.complete(case.state.open_tasks[0].task_type)
    overdue = next_deadline(case.state)
    case.tick(overdue)
    case.complete(TaskType.RECORD_TRAVEL_DOCUMENT, {"outcome": "refused", "decided_on": overdue.date().isoformat(),
                                                    "refusal_reason": "Nationality not established."}, at=overdue)
    assert case.open() == [TaskType.REVIEW_OUTCOME.value]


def test_cases_recorded_before_the_review_rules_decide_as_they_ran() -> None:
    """With the rules off (a workflow replaying a history recorded before them) each of the three
    decisions is what it was: a running case replays the events it recorded."""
    assert _two_not_cleared(rules=False).open() == [TaskType.REVIEW_OUTCOME.value] * 2
    bypassed = _refused_then_clearance_expired(rules=False)
    assert bypassed.state.stage == Stage.MOVEMENT and bypassed.open() == [TaskType.BOOK_MOVEMENT.value]
    orphaned, _ = _two_overdue_visas_one_refused(rules=False)
    assert sorted(orphaned.open()) == [TaskType.RESOLVE_ESCALATION.value, TaskType.REVIEW_OUTCOME.value]


class _Asked:
    """A ``review_rules`` callable that counts how often a decision asked it (the workflow's
    ``workflow.patched``: each first call of a run costs a marker event in history)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return True


def test_the_review_rules_are_asked_only_when_a_decision_depends_on_them() -> None:
    # A case without those branches never asks: its history has no patch marker.
    asked = _Asked()
    case = Case(size=2, rules=asked)
    for programme_case in (case, Case(size=2, rules=asked, programme="avrr", destination_country=None,
                                      origin_country="IQ")):
        now = T0
        while programme_case.state.status != CaseStatus.CLOSED:
            task = next((t for t in programme_case.state.open_tasks), None)
            if task is None:
                now = next_deadline(programme_case.state)
                programme_case.tick(now)
                continue
            programme_case.complete(task.task_type, who="selin" if "health" in task.task_type.value else "ayse",
                                    at=now)
    assert asked.calls == 0
    # A single refusal or rejection does not ask either.
    refused = Case(size=1, rules=asked)
    while refused.state.stage != Stage.VISA:
        refused.complete(refused.state.open_tasks[0].task_type)
    refused.complete(TaskType.RECORD_VISA, {"outcome": "refused", "decided_on": _day(), "refusal_reason": "No."})
    refused.complete(TaskType.REVIEW_OUTCOME, {"decision": "close", "reason": "Refused."}, who="fatma")
    assert asked.calls == 0
    # Each of the three decisions does, and decides as with the rules on.
    for scenario in (_two_not_cleared, _refused_then_clearance_expired, _two_overdue_visas_one_refused):
        asked = _Asked()
        with_callable, with_true = scenario(asked), scenario(True)
        if isinstance(with_callable, tuple):
            with_callable, with_true = with_callable[0], with_true[0]
        assert asked.calls > 0, scenario.__name__
        assert [e.type for e in with_callable.events] == [e.type for e in with_true.events], scenario.__name__
        assert (with_callable.state.stage, with_callable.open()) == (with_true.state.stage, with_true.open())


def test_a_departure_needs_a_fit_to_travel_check_within_72_hours_of_it() -> None:
    """The flight left four days after the check (it was delayed): the check is stale."""
    from domain.errors import CommandRejected, RejectionCode

    c = Case(size=1)
    for task_type in ("verify_referral", "conduct_interview", "assess_health", "record_orientation", "record_visa"):
        c.complete(TaskType(task_type))
    booked = T0 + timedelta(hours=10)
    c.complete(TaskType.BOOK_MOVEMENT, {"flight_number": "TK1751", "departure_at": booked.isoformat(),
                                        "departure_airport": "IST", "arrival_airport": "OSL"})
    c.complete(TaskType.CHECK_FIT_TO_TRAVEL, {"checked_at": T0.isoformat(), "outcome": "fit"}, who="selin")
    later = T0 + timedelta(days=4)
    with pytest.raises(CommandRejected) as refused:
        c.complete(TaskType.RECORD_DEPARTURE, {"outcome": "departed", "departed_at": later.isoformat()}, who="emre",
                   at=later)
    assert refused.value.code == RejectionCode.FIT_TO_TRAVEL_MISSING
    assert "Amina Haddad" in refused.value.message


def test_an_arrival_west_of_the_departure_may_carry_the_day_before() -> None:
    """Istanbul 01:30 on the 24th is 22:30 UTC on the 23rd; the family lands in New York that
    evening, local date the 23rd: a real arrival, dated before the departure's Istanbul date
    (it was refused, and the suite failed, when a test departed just after midnight UTC).
    No calendar on Earth is behind UTC−12, so a day before that is still refused."""
    from domain.errors import CommandRejected

    c = Case(size=1)
    for task_type in ("verify_referral", "conduct_interview", "assess_health", "record_orientation", "record_visa"):
        c.complete(TaskType(task_type))
    departed = datetime(2026, 11, 24, 1, 30, tzinfo=ZoneInfo("Europe/Istanbul"))
    at = departed + timedelta(hours=12)
    c.complete(TaskType.BOOK_MOVEMENT, {"flight_number": "TK1", "departure_at": departed.isoformat(),
                                        "departure_airport": "IST", "arrival_airport": "JFK"})
    c.complete(TaskType.CHECK_FIT_TO_TRAVEL, {"checked_at": T0.isoformat(), "outcome": "fit"}, who="selin")
    c.complete(TaskType.RECORD_DEPARTURE, {"outcome": "departed", "departed_at": departed.isoformat()}, at=at)
    arrival = {"place": "New York", "receiving_partner": "IRC New York"}
    with pytest.raises(CommandRejected) as too_early:
        c.complete(TaskType.CONFIRM_ARRIVAL, {"arrived_on": "2026-11-22", **arrival}, at=at)
    assert too_early.value.details[0]["field"] == "arrived_on" and "2026-11-23" in too_early.value.message
    c.complete(TaskType.CONFIRM_ARRIVAL, {"arrived_on": "2026-11-23", **arrival}, at=at)
    assert c.state.arrived_on == date(2026, 11, 23)


def test_a_cancelled_booking_sends_the_case_back_to_booking() -> None:
    """A group movement cancelled days before its flight: the case's booking goes, and with it
    the checks and the departure the booking had opened; the case books again."""
    from domain.errors import CommandRejected

    c = Case(size=2)
    for task_type in ("verify_referral", "conduct_interview", "assess_health", "assess_health",
                      "record_orientation", "record_orientation", "record_visa", "record_visa"):
        c.complete(TaskType(task_type))
    booked = T0 + timedelta(hours=30)  # within 72 hours: the fit-to-travel checks open at once
    c.complete(TaskType.BOOK_MOVEMENT, {"flight_number": "TK1751", "departure_at": booked.isoformat(),
                                        "departure_airport": "IST", "arrival_airport": "OSL"})
    assert sorted(str(t.task_type) for t in c.state.open_tasks) == ["check_fit_to_travel"] * 2
    cancel = core.CancelBooking(reason="The charter was cancelled by the carrier.")
    events = decide(c.state, cancel, c._ctx("emre", T0 + timedelta(hours=1)))
    c._apply(events)
    assert [e.type for e in events] == ["TaskCancelled", "TaskCancelled", "BookingCancelled", "TaskOpened"]
    assert c.state.movement is None and [str(t.task_type) for t in c.state.open_tasks] == ["book_movement"]
    with pytest.raises(CommandRejected):  # nothing booked any more
        decide(c.state, cancel, c._ctx("emre", T0 + timedelta(hours=2)))
