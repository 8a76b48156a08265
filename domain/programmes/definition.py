"""What a programme is to the engine: the plug-in interface.

A programme (resettlement, AVRR, ...) is one folder under ``domain/programmes/`` that builds
one ``ProgrammeDefinition`` and registers it (``domain.programmes.register``).  The engine
(``domain.engine``: decide, flow, clocks, evolve) asks the case's definition whenever
something depends on the programme, and never names one itself.

Everything here is pure (no I/O, no clock): the hooks run inside the Temporal workflow on
replay, in the projection rebuild and in "the case as it stood on a day".  Shared building
blocks for programmes that move people (health holds, travel documents, booking, fit to
travel, departure, arrival) are in ``domain.programmes.travel``; a programme composes them in
its hooks.

The hooks, and when the engine calls them:

* ``start(referred)``: the programme's own state (``CaseState.programme_data``) of a new case.
* ``referral_terms(command)``: what the referral event records besides the referral itself.
* ``next_step(state, stage, ctx)``: the task a stage needs next and for whom, or None.
* ``holds(state, stage)``: the stage must not end yet although it needs no task now.
* ``waits(state, now)``: the next step opens later, on a clock (e.g. fit-to-travel checks).
* ``check(state, task, form, ctx)``: rules about a completion that need the case.
* ``completion_context(state, task)``: what a completion event records from the case.
* ``follow_up(draft, task, form)``: what a completion opens besides the normal flow.
* ``review_decisions`` / ``review_closure_reason``: the supervisor's options after a
  negative outcome, and the closure reason of "close".
* ``apply(state, event, at)``: the programme's part of folding an event (after the engine's).
* ``deadlines(state, office_day_ends, office_day_starts)`` / ``tick(draft)``: the programme's
  clocks (a date deadline ends with the day in the case's office when ``office_day_ends`` is
  in force, as ``tick`` judges it by ``draft.ctx.office_day_ends``: ``domain.engine.flow.day_end``;
  what opens on a day, such as a child's 18th birthday, starts with the day there when
  ``office_day_starts`` is: ``domain.engine.flow.day_start``).
* ``actions``: case actions only this programme has (kind -> decide function).
* ``read_model_data(state)``: the JSON the read model keeps in ``cases.programme_data``.

And one fact about the referral: ``members_join_sponsor``.  By default a referral's members
relate to one principal applicant among them (exactly one member is 'principal').  A programme
whose members join a sponsor (family reunification) sets it: the referral must then name the
sponsor (``Referral.sponsor``), no member is 'principal', and the programme's
``check_referral`` says which relationships (to the sponsor) are eligible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from domain.model import Stage
from domain.tasks import TaskSpec

if TYPE_CHECKING:
    from domain.engine.context import DecisionContext
    from domain.engine.draft import Draft
    from domain.state import CaseState, TaskState

Step = tuple[str, list[str | None]] | None
"""The task type a stage needs next and for whom (member ids; [None] for a case-level task)."""


def _nothing(*_: Any) -> None:
    return None


def _no_deadlines(_: CaseState, __: Any, ___: Any = True) -> list[datetime]:
    return []


@dataclass(frozen=True)
class ProgrammeDefinition:
    name: str
    title: str  # for people: "Refugee resettlement"
    workflow_type: str  # the Temporal workflow type of its cases
    stages: tuple[Stage, ...]  # in order, ending with Stage.CLOSED
    stage_labels: Mapping[Stage, str]
    task_specs: Mapping[str, TaskSpec]
    next_step: Callable[[CaseState, Stage, DecisionContext], Step]
    completion_reason: str  # the closure reason when a case passes its last stage
    # Stages a destination may run itself (its profile, ``domain.destination_services``): a
    # case whose recorded profile skips one of these passes it by.
    optional_stages: frozenset[Stage] = frozenset()
    review_decisions: Callable[[CaseState], tuple[str, ...]] = lambda _: ("close",)
    review_closure_reason: Callable[[CaseState], str] = lambda _: "not_accepted"
    holds: Callable[[CaseState, Stage], bool] = lambda _s, _t: False
    # (state, now) -> the case waits on a clock before its stage's next step may open
    waits: Callable[[CaseState, datetime], bool] = lambda _s, _n: False
    start: Callable[[Any], BaseModel | None] = _nothing
    data_model: type[BaseModel] | None = None
    referral_terms: Callable[[Any], dict[str, Any]] = lambda _: {}
    # raises ValueError (which field, why), or domain.model.ReferralFieldError to report it at the field
    check_referral: Callable[[Any], None] = _nothing
    members_join_sponsor: bool = False  # the referral names a sponsor; members relate to them (no principal)
    check: Callable[[CaseState, TaskState, Any, DecisionContext], None] = _nothing
    completion_context: Callable[[CaseState, TaskState], dict[str, Any]] = lambda _s, _t: {}
    follow_up: Callable[[Draft, TaskState, Any], None] = _nothing
    apply: Callable[[CaseState, Any, datetime], None] = _nothing
    deadlines: Callable[..., list[datetime]] = _no_deadlines
    tick: Callable[[Draft], None] = _nothing
    actions: Mapping[str, Callable[[Draft, Any], None]] = field(default_factory=dict)
    read_model_data: Callable[[CaseState], dict[str, Any]] = lambda _: {}
    # Keys of read_model_data that are protection details (``TaskSpec.protection_data``): kept
    # from the roles that may not read them.
    protected_data_keys: frozenset[str] = frozenset()
    # Which task's outcome opened a review (for the four-eyes rule), where it is not simply the
    # last task completed before it: (state, review task, tasks done before it) -> narrowed list.
    review_openers: Callable[[CaseState, TaskState, list[TaskState]], list[TaskState]] = (
        lambda _s, _t, done: done)

    def rank(self, stage: Stage) -> int:
        return self.stages.index(stage)

    def spec(self, task_type: str) -> TaskSpec:
        return self.task_specs[task_type]

    @property
    def labels(self) -> Mapping[Stage, str]:
        return self.stage_labels
