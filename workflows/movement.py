"""The Movement workflow: one durable workflow per group movement (a charter, a block of seats
on a scheduled flight, a commercial group booking), id = the movement id.

Every command is an Update.  Its validator decides what it can without the cases (a locked
manifest, a finished movement); the handler asks the cases' own workflows for what the
manifest rules need (the ``movement_case_facts`` activity queries each case workflow's
``state``: movements and cases talk only through Temporal), decides under a lock, has the
projection activity write the movement and its manifest to PostgreSQL, folds and answers.

Fan-out, exactly once.  Locking the manifest books every case on the movement's flight;
confirming the departure (or cancelling a locked movement) records it on every case.  The
update that asks for it only records the decision (``ManifestLocked``,
``DepartureConfirmed``, ``MovementCancelled``) and answers; the run loop then sees cases
the decision has not reached yet (``MovementState.pending_bookings`` /
``pending_departures``) and reaches them in batches (``FAN_OUT_BATCH`` cases per activity,
every case of a batch at once).  Each case gets its command through the case workflow's own
``complete_task`` Update, with an update id derived from the movement, the step and the
case only (``fan_out_update_id``): Temporal runs an Update of a given id once per workflow
run and answers every later call of it with the first one's outcome.  The task is the one
the case showed when the movement decided (its facts at the lock / the confirmation); a
refused Update (the task completed meanwhile, e.g. by an attempt in a run whose update ids
Temporal no longer holds) is checked against the case's state, and an effect already there
is reported as applied, not sent again.  What each case answered is recorded (``CaseBooked`` /
``CaseDepartureRecorded``).  A worker killed half-way: the batch's heartbeat stops, Temporal
runs the batch again on another worker, and every case it had reached either shows the
effect or gets the same Update again, which is not applied twice.  A repeated
confirmation decides nothing.

A delay (``MovementDelayed``) fans out the same way: each booked case's booking dropped and
made again on the new time, two Updates whose ids name the delay (``delay{n}-drop`` /
``delay{n}-book``), each sent only when the case's state does not show it yet.  The arrival
(``ArrivalConfirmed``) completes each departed case's ``confirm_arrival`` task.  A departed
movement's run has finished by then: the API starts a new run of the same id from the
finished run's result (``MovementWorkflowInput.state``), with the arrival as its first Update;
it fans the arrival out and finishes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TemporalError

from workflows.creation import created_in_time
from workflows.failures import undecidable

with workflow.unsafe.imports_passed_through():
    import domain.movements.rules  # noqa: F401
    from domain.model import Actor
    from domain.movements import commands as c
    from domain.movements.decide import MovementRejected, decide, fold, new_cases
    from domain.movements.model import CaseFacts, FanOutResult, MovementState, MovementStatus, Problem
    from domain.movements.records import (
        CASE_FACTS,
        FAN_OUT,
        MOVEMENT_WORKFLOW_TYPE,
        RECORD_MOVEMENT,
        CaseFactsList,
        CaseFactsRequest,
        FanOutBatch,
        FanOutRequest,
        FanOutResults,
        MovementOutcome,
        MovementRequest,
        MovementWorkflowInput,
        RecordMovementRequest,
        fan_out_update_id,
    )
    from domain.records import AuditStamp

RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30), maximum_attempts=0)
# From this patch on, a case always leaves a locked manifest (with a reason), whatever its
# state: before it, a case not ready to depart or no longer booked on the flight was refused,
# which held the whole movement (domain.movements.decide._take_off_locked).
REMOVAL_ALWAYS_POSSIBLE_PATCH = "removal-always-possible-v1"
# From this patch on, a departure is refused while a case is on hold or the manifest is empty,
# a repeated departure / cancellation that says something else is refused instead of ignored,
# and a movement is created at most two years ahead (domain.movements.decide, departure_rules).
DEPARTURE_RULES_PATCH = "departure-rules-v1"
# From this patch on, a delay moves the flight at most two years ahead, as a creation may
# (domain.movements.decide, delay_limit); histories before it delayed without that limit.
DELAY_LIMIT_PATCH = "delay-limit-v1"
# From this patch on, a departure dated before a departing person's fit-to-travel check (or
# more than 72 hours after it) is refused before anything is recorded: every case would refuse
# it, leaving the movement departed and no case (domain.movements.rules.departure_time_problems).
DEPARTURE_TIME_PATCH = "departure-time-v1"
# From this patch on, a delay recounts every case's seats and age-related needs for the new day
# of travel (a baby who turns 2 before it takes a seat; a case of minors only in which one turns
# 18 is no longer unaccompanied), from the facts of every case on the manifest (an open one's
# too: one more activity), and records them on ``MovementDelayed.recount``.  Before it, the
# seats stayed as counted on the day each case joined (domain.movements.decide._delay).
DELAY_RECOUNT_PATCH = "delay-recount-v1"
# From this patch on, a departure is refused while the departing cases need more seats than
# the movement has or a case has more lap infants than seats (the recount's consequence:
# domain.movements.rules.seat_problems); the officer takes a case off or records it not boarded.
DEPARTURE_SEATS_PATCH = "departure-seats-v1"
# From this patch on, a case on hold departs with its movement: its workflow records a
# departure the movement fans out even on hold (a fact: the case's facts-on-hold-v1), so the
# movement no longer refuses the whole departure for it (domain.movements.rules.departure_problems).
HELD_CASES_DEPART_PATCH = "held-cases-depart-v1"
# From this patch on, the manifest lists each person once, under the case they are in now: an
# add is refused for a member listed already under another case (a family split after that case
# joined), the lock and the departure are refused for a case whose members changed since it was
# added, and the lock refreshes each entry's people (name, date of birth, sex, nationality) from
# the case's facts (``ManifestLocked.members``): domain.movements.rules.members_changed_problems.
MANIFEST_MEMBERS_PATCH = "manifest-members-v1"
# A fan-out reaches its cases in batches of this many, one activity each (all batches at
# once, every case of a batch at once): a 60-case charter is 3 activities in history.
FAN_OUT_BATCH = 25


def _rejection(exc: MovementRejected) -> ApplicationError:
    return ApplicationError(exc.message, {"code": exc.code, "details": exc.details}, type=exc.code,
                            non_retryable=True)


@workflow.defn(name=MOVEMENT_WORKFLOW_TYPE)
class MovementWorkflow:
    @workflow.init
    def __init__(self, input: MovementWorkflowInput) -> None:
        self._id = input.movement_id
        self._state: MovementState | None = input.state
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: MovementWorkflowInput) -> MovementState | None:
        if not await created_in_time(lambda: self._state is not None, input.nothing_created_grace_seconds):
            return None  # its creation was refused and never sent again: nothing to keep waiting for
        while True:
            await workflow.wait_condition(lambda: self._fan_out_due() or self._finished() or self._should_continue())
            if self._finished():
                assert self._state is not None
                return self._state
            if self._fan_out_due():
                await self._fan_out()
            elif self._should_continue():
                workflow.continue_as_new(MovementWorkflowInput(movement_id=self._id, state=self._state))

    def _fan_out_due(self) -> bool:
        return self._state is not None and not self._lock.locked() and not self._state.fan_out_done

    def _finished(self) -> bool:
        s = self._state
        return (s is not None and s.status in (MovementStatus.DEPARTED, MovementStatus.CANCELLED) and s.fan_out_done
                and workflow.all_handlers_finished())

    def _should_continue(self) -> bool:
        return (workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished()
                and not self._lock.locked())

    # --- updates ---------------------------------------------------------------------------

    @workflow.update(name="create")
    async def create(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @create.validator
    def _validate_create(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="add_case")
    async def add_case(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @add_case.validator
    def _validate_add_case(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="remove_case")
    async def remove_case(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @remove_case.validator
    def _validate_remove_case(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="lock")
    async def lock(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @lock.validator
    def _validate_lock(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="confirm_departure")
    async def confirm_departure(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @confirm_departure.validator
    def _validate_confirm_departure(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="cancel")
    async def cancel(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @cancel.validator
    def _validate_cancel(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="record_boarding")
    async def record_boarding(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @record_boarding.validator
    def _validate_record_boarding(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="record_needs")
    async def record_needs(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @record_needs.validator
    def _validate_record_needs(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="delay")
    async def delay(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @delay.validator
    def _validate_delay(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.update(name="confirm_arrival")
    async def confirm_arrival(self, request: MovementRequest) -> MovementOutcome:
        return await self._command(request)

    @confirm_arrival.validator
    def _validate_confirm_arrival(self, request: MovementRequest) -> None:
        self._validate(request)

    @workflow.query(name="state")
    def state(self) -> MovementState | None:
        return self._state

    # --- deciding ----------------------------------------------------------------------------

    def _validate(self, request: MovementRequest) -> None:
        """What can be judged without asking the cases (those commands get placeholder facts
        that the rules are not run on: the manifest's state refuses first, or the handler
        decides with the real facts)."""
        command = request.command
        if isinstance(command, (c.AddCase, c.LockManifest)):
            if self._state is None:
                raise _rejection(MovementRejected("movement_not_found", "no such movement"))
            if self._state.status != MovementStatus.OPEN:
                raise _rejection(MovementRejected("movement_not_open" if self._state.status == MovementStatus.LOCKED
                                                  else "movement_finished",
                                                  f"the manifest of movement {self._id} is {self._state.status.value}"))
            departs = self._state.details.departure_at
            if departs <= workflow.now():
                # Every booking on a flight that has left fails, and the cases would stay on this
                # manifest, kept off any other.  Judged here only (validators do not run on
                # replay): a history that added or locked late replays as it ran.
                raise _rejection(MovementRejected(
                    "departure_passed", f"movement {self._id}'s flight was to leave at {departs.isoformat()}: "
                                        "give it new times (delay) or cancel it",
                    [Problem(case_id="*", rule="departure_passed", field="departure_at",
                             message="the scheduled departure has passed")]))
            return
        if isinstance(command, c.ConfirmDeparture) and self._state is not None \
                and self._state.status == MovementStatus.LOCKED and self._state.fan_out_done:
            # Judged here only (validators do not run on replay): a departure that skipped an
            # unbooked case before this rule replays as it ran.
            skipped = domain.movements.rules.unbooked_problems(
                self._state, {n.case_id for n in command.not_boarded})
            if skipped:
                raise _rejection(MovementRejected("manifest_rules", "the departure cannot be recorded on every "
                                                                    "case: " + "; ".join(p.message for p in skipped),
                                                  skipped))
        try:
            decide(self._state, command, workflow.now(), request.actor)
        except MovementRejected as exc:
            raise _rejection(exc) from None
        if isinstance(command, c.ConfirmDeparture) and self._state is not None \
                and self._state.status == MovementStatus.LOCKED:
            # A departure dated more than 12 hours before the scheduled one (a flight does not
            # leave half a day early), once the movement's state lets it depart at all.  Judged
            # here only (validators do not run on replay): a history that departed early
            # replays as it ran.
            early = domain.movements.rules.early_departure_problems(self._state.details, command.departed_at)
            if early:
                raise _rejection(MovementRejected("invalid_command", f"departed_at {early[0].message}", early))

    async def _command(self, request: MovementRequest) -> MovementOutcome:
        async with self._lock:
            changed = await self._execute(request.command, request.actor, request.audit)
        assert self._state is not None
        return MovementOutcome(movement_id=self._id, version=self._state.version, changed=changed)

    async def _execute(self, command: object, actor: Actor, audit: AuditStamp | None = None) -> bool:
        facts: list[CaseFacts] | None = None
        state = self._state
        # Asked only for a delay that goes ahead (a pending fan-out refuses it first), before its
        # facts are asked for: histories that delayed without the recount replay as before.
        recount = False
        if isinstance(command, c.DelayMovement) and state is not None and state.manifest \
                and state.status in (MovementStatus.OPEN, MovementStatus.LOCKED) and not state.pending_bookings \
                and not state.pending_delays and not state.pending_releases:
            recount = workflow.patched(DELAY_RECOUNT_PATCH)
        if state is not None and state.status == MovementStatus.OPEN:
            if isinstance(command, c.AddCase) and (new := new_cases(state, command)):
                facts = await self._facts(new)
            elif isinstance(command, c.LockManifest):
                facts = await self._facts([e.case_id for e in state.manifest])
            elif recount:  # every case's needs for the new day of travel
                facts = await self._facts([e.case_id for e in state.manifest])
        elif state is not None and state.status == MovementStatus.LOCKED and not state.pending_bookings:
            if isinstance(command, c.ConfirmDeparture):
                facts = await self._facts([e.case_id for e in state.manifest
                                           if e.booking is not None and e.booking.applied])
            elif isinstance(command, c.RemoveCase) and (entry := state.entry(command.case_id)) is not None \
                    and entry.booking is not None and entry.booking.applied:
                facts = await self._facts([command.case_id])
            elif isinstance(command, c.DelayMovement) and not state.pending_delays and not state.pending_releases:
                # whether each booked case's documents reach the new day of travel (and, with
                # the recount, every case's seats and needs on it)
                facts = await self._facts([e.case_id for e in state.manifest
                                           if recount or (e.booking is not None and e.booking.applied)])
        # Asked only where it matters (a case leaving a locked manifest), so the marker is
        # written there and nowhere else: histories that refused such a removal replay as before.
        always = facts is None or not isinstance(command, c.RemoveCase) or workflow.patched(
            REMOVAL_ALWAYS_POSSIBLE_PATCH)
        departure_rules = not isinstance(command, (c.CreateMovement, c.ConfirmDeparture, c.CancelMovement)) \
            or workflow.patched(DEPARTURE_RULES_PATCH)
        # Asked only for a delay, so that no other command's history gets the marker.
        delay_limit = not isinstance(command, c.DelayMovement) or workflow.patched(DELAY_LIMIT_PATCH)
        # Asked only for a departure checked against the cases' facts (the handler's decision).
        departure_time = facts is None or not isinstance(command, c.ConfirmDeparture) or workflow.patched(
            DEPARTURE_TIME_PATCH)
        # The same: the departure's seats on the (delayed) day of travel.
        departure_seats = facts is None or not isinstance(command, c.ConfirmDeparture) or workflow.patched(
            DEPARTURE_SEATS_PATCH)
        # Asked only for an add, a lock or a departure decided with the cases' facts.
        member_rules = facts is None or not isinstance(command, (c.AddCase, c.LockManifest, c.ConfirmDeparture)) \
            or workflow.patched(MANIFEST_MEMBERS_PATCH)
        # Asked only for a departure with a case on hold among its cases.
        held_depart = facts is None or not isinstance(command, c.ConfirmDeparture) or not any(
            f.on_hold and f.departed_at is None for f in facts) or workflow.patched(HELD_CASES_DEPART_PATCH)
        try:
            events = decide(self._state, command, workflow.now(), actor, facts, removal_always_possible=always,
                            departure_rules=departure_rules, delay_limit=delay_limit,
                            departure_time=departure_time, delay_recount=recount,
                            departure_seats=departure_seats, member_rules=member_rules,
                            held_cases_depart=held_depart)
            new_state = fold(events, self._state, self._id) if events else None
        except MovementRejected as exc:
            raise _rejection(exc) from None
        except TemporalError:
            raise
        except Exception as exc:  # noqa: BLE001 - workflows.failures.undecidable says why
            raise undecidable(exc) from None
        if new_state is None:
            return False
        try:
            await workflow.execute_activity(RECORD_MOVEMENT, RecordMovementRequest(state=new_state),
                                            start_to_close_timeout=timedelta(seconds=10), retry_policy=RETRY,
                                            summary=f"record v{new_state.version}")
        except ActivityError as exc:
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            code = (cause.type if cause else None) or "recording_failed"
            raise ApplicationError(f"the movement could not be recorded: {cause.message if cause else exc}",
                                   {"code": code, "details": []}, type=code, non_retryable=True) from None
        self._state = new_state
        return True

    async def _facts(self, case_ids: list[str]) -> list[CaseFacts]:
        """What the cases' own workflows say, all in one activity (a few history events,
        however long the manifest)."""
        found: CaseFactsList = await workflow.execute_activity(
            CASE_FACTS, CaseFactsRequest(movement_id=self._id, case_ids=case_ids), result_type=CaseFactsList,
            start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY, summary=f"facts of {len(case_ids)} cases")
        return found.facts

    # --- fan-out -----------------------------------------------------------------------------

    async def _fan_out(self) -> None:
        state = self._state
        assert state is not None
        step, cases = next((step, cases) for step, cases in (
            ("booking", state.pending_bookings), ("release", state.pending_releases), ("delay", state.pending_delays),
            ("departure", state.pending_departures), ("arrival", state.pending_arrivals)) if cases)
        requests = [self._fan_out_request(state, step, case_id) for case_id in cases]
        batches = [requests[i:i + FAN_OUT_BATCH] for i in range(0, len(requests), FAN_OUT_BATCH)]
        answered: list[FanOutResults] = list(await asyncio.gather(*[
            workflow.execute_activity(FAN_OUT, FanOutBatch(requests=b), result_type=FanOutResults,
                                      start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(seconds=10),
                                      retry_policy=RETRY, summary=f"{step} of {len(b)} cases")
            for b in batches]))
        results: list[FanOutResult] = [r for a in answered for r in a.results]
        async with self._lock:
            await self._execute(c.RecordFanOut(step=step, results=results), Actor.system())

    def _fan_out_request(self, state: MovementState, step: str, case_id: str) -> FanOutRequest:
        d = state.details
        if step == "release":
            removed = state.removed_entry(case_id)
            assert removed is not None
            return FanOutRequest(
                movement_id=self._id, case_id=case_id, step="release",
                update_id=fan_out_update_id(self._id, step, case_id), task_id=removed.release_task_id,
                flight_number=d.flight_number, departure_at=d.departure_at, departure_airport=d.departure_airport,
                arrival_airport=d.arrival_airport, outcome="postponed",
                reason=f"Taken off movement {self._id}: {removed.reason}", actor=removed.released_by or Actor.system(),
                audit=AuditStamp(action="POST /api/v1/movements/{movement_id}/cases/{case_id}/remove", status=200))
        entry = state.entry(case_id)
        assert entry is not None
        if step == "delay":
            n = state.delays
            dropped = entry.delay_drop_reason is not None
            return FanOutRequest(
                movement_id=self._id, case_id=case_id, step="delay",
                update_id=fan_out_update_id(self._id, f"delay{n}-drop", case_id),
                book_update_id=fan_out_update_id(self._id, f"delay{n}-book", case_id),
                flight_number=d.flight_number, departure_at=d.departure_at, departure_airport=d.departure_airport,
                arrival_airport=d.arrival_airport, outcome="postponed" if dropped else "rebook",
                previous_departure_at=state.previous_departure_at,
                reason=(f"Group movement {self._id} delayed to {d.departure_at.isoformat()}: {state.delay_reason}"
                        + (f"; the new time is too late: {entry.delay_drop_reason}" if dropped else "")),
                actor=state.delayed_by or Actor.system(),
                audit=AuditStamp(action="POST /api/v1/movements/{movement_id}/delay", status=200))
        if step == "arrival":
            return FanOutRequest(
                movement_id=self._id, case_id=case_id, step="arrival",
                update_id=fan_out_update_id(self._id, step, case_id), flight_number=d.flight_number,
                departure_at=d.departure_at, departure_airport=d.departure_airport, arrival_airport=d.arrival_airport,
                outcome="arrived", arrived_on=state.arrived_on, place=state.arrival_place,
                receiving_partner=state.receiving_partner, actor=state.arrival_confirmed_by or Actor.system(),
                audit=AuditStamp(action="POST /api/v1/movements/{movement_id}/arrival", status=200))
        if step == "booking":
            outcome, actor, action = "book", state.locked_by, "lock"
        elif state.status == MovementStatus.CANCELLED:
            outcome, actor, action = "postponed", state.confirmed_by, "cancel"
        else:
            outcome = "departed" if entry.boarded is not False else "no_show"
            actor, action = state.confirmed_by, "confirm-departure"
        reason = state.cancellation_reason if outcome == "postponed" else entry.not_boarded_reason
        task_id = (entry.booking_task_id if step == "booking"
                   else entry.departure_task_id if state.status == MovementStatus.DEPARTED else None)
        return FanOutRequest(
            movement_id=self._id, case_id=case_id, step=step,  # type: ignore[arg-type]
            update_id=fan_out_update_id(self._id, step, case_id), task_id=task_id,
            flight_number=d.flight_number, departure_at=d.departure_at, departure_airport=d.departure_airport,
            arrival_airport=d.arrival_airport, outcome=outcome,  # type: ignore[arg-type]
            departed_at=state.departed_at, reason=reason, actor=actor or Actor.system(),
            audit=AuditStamp(action=f"POST /api/v1/movements/{{movement_id}}/{action}", status=200))
