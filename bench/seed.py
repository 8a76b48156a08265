"""Synthetic cases for the read-model workload, written through the projection code.

Every synthetic case is a valid event sequence produced by the domain's own ``decide``
and folded with its own ``fold``, then written with ``store.projection.record_case_events``:
the very function the recording activity calls, so the rows, indexes and JSON payloads
are exactly what live cases produce.

Why templates: ``decide`` deep-copies the case state on every command (~0.7 ms per command
here), so deciding 100,000 cases one by one would take minutes of CPU.  Instead ``decide``
runs once per case *shape* (family size x stage reached x priority x whether its deadline
timer has fired: 270 shapes), producing
the shape's events with placeholder identities; each synthetic case then gets its own
identity (case id, external referral id, member and task ids, event ids, names, dates of
birth, office, referral fingerprint) and its own dates (every timestamp shifted), is parsed
back into ``RecordedEvent`` models (pydantic validation) and folded into its ``CaseState``
with ``fold``.  So each case's state is a real fold of its own events.

Writing: ``record_case_events`` is called once per case, many cases per transaction
(``BatchingConnection`` collects the statements the function issues and sends each kind
with one pipelined ``executemany``), on several connections at once.  The direct path
(one ``record_case_events`` call per case on a real connection) is kept as a fallback and
as ``--seed-path direct``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from demo.driver import example_form
from domain.case import CaseState, CompleteTask, DecisionContext, ReferCase, Tick, decide, fold, next_deadline
from domain.errors import CommandRejected
from domain.events import RecordedEvent
from domain.identity import case_id_for
from domain.model import Actor, Priority, Referral, Stage
from domain.tasks import TASK_SPECS, TaskType
from store.projection import record_case_events

# --- what the synthetic operation looks like -------------------------------------------------

OFFICES: list[tuple[str, float]] = [("IST", 0.35), ("IZM", 0.25), ("ANK", 0.15), ("GZT", 0.15), ("HTY", 0.10)]
FAMILY_SIZES: list[tuple[int, float]] = [(1, 0.30), (2, 0.20), (3, 0.15), (4, 0.15), (5, 0.12), (7, 0.08)]
PRIORITIES: list[tuple[Priority, float]] = [(Priority.EMERGENCY, 0.08), (Priority.URGENT, 0.22), (Priority.NORMAL, 0.70)]
# Where the cases stand: most of an operation's history is closed.
STAGES: list[tuple[Stage, float]] = [
    (Stage.REFERRAL, 0.08), (Stage.INTERVIEW, 0.10), (Stage.HEALTH, 0.08), (Stage.ORIENTATION, 0.06),
    (Stage.VISA, 0.10), (Stage.MOVEMENT, 0.05), (Stage.ARRIVAL, 0.03), (Stage.CLOSED, 0.50),
]
DESTINATIONS = ["NO", "SE", "DE", "CA", "US", "GB", "NL", "FI", "FR", "AU"]
NATIONALITIES = ["SY", "SY", "SY", "AF", "AF", "IQ", "IR"]
GIVEN_F = ["Amina", "Layla", "Huda", "Nour", "Rania", "Zahra", "Mina", "Samira", "Fatima", "Aya", "Shirin", "Lina",
           "Reem", "Mariam", "Dilan", "Hevin", "Rojda", "Parwana", "Sara", "Yasmin", "Rasha", "Dalia", "Farah", "Hana"]
GIVEN_M = ["Yusuf", "Omar", "Karim", "Sami", "Hassan", "Ahmad", "Mustafa", "Khaled", "Farid", "Ali", "Tarek",
           "Abdullah", "Darius", "Jamal", "Bilal", "Hamza", "Rami", "Ziad", "Walid", "Nabil", "Idris", "Reza"]
SURNAMES = ["Haddad", "Rahimi", "Khalil", "Al-Jabouri", "Ahmadi", "Darwish", "Mansour", "Noori", "Youssef", "Hamdan",
            "Karimi", "Othman", "Ali", "Hussein", "Ibrahim", "Saleh", "Nasser", "Qasim", "Hakimi", "Sultani",
            "Mohammadi", "Azizi", "Barakat", "Shami", "Halabi", "Kurdi", "Jaber", "Suleiman", "Abbas", "Mahmoud",
            "Hashemi", "Sadeghi", "Rostami", "Akbari", "Habibi", "Jafari", "Najjar", "Sabbagh", "Tamimi", "Zaher"]
# Days a case spends on each step (referral to arrival) in the synthetic timeline.
STEP_DAYS = {"verify_referral": 6, "conduct_interview": 20, "assess_health": 12, "record_orientation": 9,
             "record_visa": 35, "book_movement": 10, "record_departure": 12, "confirm_arrival": 1}

T0 = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)  # the templates' clock starts here; every case shifts it
_PH_CASE, _PH_EXT, _PH_OFFICE, _PH_CW, _PH_FP = "XCASEIDX", "XEXTREFX", "QQOFFICEQQ", "xcwx", "XFPX"


def _pick(rng: random.Random, table: list[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _eid(k: int) -> str:
    return f"00000000-0000-4000-8000-{k:012d}"


# --- templates: one decide run per shape ------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<ph>XCASEIDX|XEXTREFX|QQOFFICEQQ|xcwx|XFPX|XNAME(?P<nk>\d)X|1901-01-0(?P<dk>\d))"
    r"|00000000-0000-4000-8000-(?P<ek>\d{12})"
    r"|(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>(?<![\d-])\d{4}-\d{2}-\d{2}(?![\dT]))"
)


@dataclass
class Template:
    members: int
    stage: Stage
    priority: Priority
    parts: list[Any]          # literal strings and slots
    referral_parts: list[Any]  # the referral's JSON, for its fingerprint
    span: timedelta           # referral to the template's last command
    events: int
    tick_at: timedelta | None = None  # overdue variant: when the deadline timer fired (from T0)


def _compile(text: str) -> list[Any]:
    parts: list[Any] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        parts.append(text[pos:m.start()])
        if m["nk"]:
            parts.append(("name", int(m["nk"])))
        elif m["dk"]:
            parts.append(("dob", int(m["dk"])))
        elif m["ph"]:
            parts.append(("ph", m["ph"]))
        elif m["ek"]:
            parts.append(("eid", int(m["ek"])))
        elif m["ts"]:
            parts.append(("ts", datetime.fromisoformat(m["ts"].replace("Z", "+00:00"))))
        else:
            parts.append(("date", date.fromisoformat(m["date"])))
        pos = m.end()
    parts.append(text[pos:])
    return [p for p in parts if p != ""]


def _template_referral(members: int, priority: Priority) -> Referral:
    relationship = ["principal", "spouse"] + ["child"] * 6
    people = [{"full_name": f"XNAME{k}X", "date_of_birth": f"1901-01-0{k}", "sex": "female" if k % 2 else "male",
               "nationality": "SY", "relationship": relationship[k - 1]} for k in range(1, members + 1)]
    return Referral.model_validate({"programme": "resettlement", "office": _PH_OFFICE, "priority": priority.value,
                                    "destination_country": "NO", "external_referral_id": _PH_EXT, "members": people})


def build_template(members: int, stage: Stage, priority: Priority, overdue: bool = False) -> Template:
    """The events of one case shape; ``overdue``: then the case's deadline timer fires (``Tick``)
    until a task is marked overdue and escalated, as the workflow does for a case left waiting."""
    counter = iter(range(1, 10_000))
    clock = T0
    actors = {
        "caseworker": Actor(id=_PH_CW, role="caseworker", offices=(_PH_OFFICE,)),
        "medical_officer": Actor(id="selin", role="medical_officer", offices=(_PH_OFFICE,)),
        "movement_officer": Actor(id="emre", role="movement_officer", offices=(_PH_OFFICE,)),
    }

    def ctx(actor: Actor) -> DecisionContext:
        return DecisionContext(now=clock, actor=actor, new_event_id=lambda: _eid(next(counter)))

    referral = _template_referral(members, priority)
    events = decide(None, ReferCase(case_id=_PH_CASE, referral=referral), ctx(actors["caseworker"]))
    state = fold(events)
    assert state is not None
    order = [Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.VISA, Stage.MOVEMENT,
             Stage.ARRIVAL, Stage.CLOSED]
    previous: TaskType | None = None
    while order.index(state.stage) < order.index(stage) and state.open_tasks:
        task = state.open_tasks[0]
        actor = actors.get(TASK_SPECS[task.task_type].role.value, actors["caseworker"])
        # Days pass between steps (the members' tasks of one step happen the same day); if the
        # domain refuses that (a departure must fall within 72 h of the fit-to-travel checks),
        # the step happens the same day as the one before.
        step = timedelta(days=STEP_DAYS.get(task.task_type.value, 3)) if task.task_type != previous else timedelta()
        for candidate in dict.fromkeys((clock + step, clock)):
            form = example_form({"task_type": task.task_type.value, "task_id": task.task_id}, candidate.date())
            try:
                new = decide(state, CompleteTask(task_id=task.task_id, form=form), DecisionContext(
                    now=candidate, actor=actor, new_event_id=lambda: _eid(next(counter))))
                clock = candidate
                break
            except CommandRejected:
                if candidate == clock:
                    raise
        previous = task.task_type
        state = fold(new, start=state)
        events += new
    span = clock - T0
    tick_at = None
    if overdue:
        for _ in range(5):  # the workflow sleeps until next_deadline, then decides a Tick
            deadline = next_deadline(state)
            if deadline is None:
                break
            new = decide(state, Tick(), DecisionContext(now=deadline, actor=Actor.system(),
                                                        new_event_id=lambda: _eid(next(counter))))
            state = fold(new, start=state) if new else state
            events += new
            tick_at = deadline - T0
            if any(t.overdue for t in state.open_tasks):
                break
        else:
            tick_at = None
        if not any(t.overdue for t in state.open_tasks):
            tick_at = None
    text = "[" + ",".join(e.model_dump_json() for e in events) + "]"
    text = text.replace(state.referral_fingerprint, _PH_FP)
    return Template(members=members, stage=stage, priority=priority, parts=_compile(text),
                    referral_parts=_compile(referral.model_dump_json()), span=span, events=len(events),
                    tick_at=tick_at)


# --- one synthetic case -------------------------------------------------------------------------

_EVENTS = TypeAdapter(list[RecordedEvent])


@dataclass
class SyntheticIdentity:
    number: int
    external_referral_id: str
    case_id: str
    office: str
    caseworker: str
    names: list[str]
    dobs: list[str]
    shift: timedelta


def _fill(parts: list[Any], ident: SyntheticIdentity, run: int, fingerprint: str = "") -> str:
    out: list[str] = []
    append = out.append
    shift, days = ident.shift, timedelta(days=ident.shift.days)
    seen: dict[Any, str] = {}  # a case's events share timestamps: format each once
    placeholders = {_PH_CASE: ident.case_id, _PH_EXT: ident.external_referral_id, _PH_OFFICE: ident.office,
                    _PH_CW: ident.caseworker, _PH_FP: fingerprint}
    eid_prefix = f"{ident.number:08x}-{run:04x}-4000-8000-"
    for p in parts:
        if type(p) is str:
            append(p)
            continue
        kind, value = p
        if kind == "ts":
            text = seen.get(value)
            if text is None:
                text = seen[value] = (value + shift).isoformat()
            append(text)
        elif kind == "eid":
            append(f"{eid_prefix}{value:012x}")
        elif kind == "ph":
            append(placeholders[value])
        elif kind == "name":
            append(ident.names[value - 1])
        elif kind == "dob":
            append(ident.dobs[value - 1])
        else:  # a date of the case's timeline
            text = seen.get(value)
            if text is None:
                text = seen[value] = (value + days).isoformat()
            append(text)
    return "".join(out)


class SyntheticCases:
    """Deterministic (seeded) synthetic cases: ``make(i)`` gives case i's events and state."""

    def __init__(self, run: int, prefix: str, seed: int = 7, now: datetime | None = None):
        self.run, self.prefix = run, prefix
        self.now = now or datetime.now(UTC)
        self.seed = seed
        started = time.perf_counter()
        self.templates = {
            (m, s, p, late): build_template(m, s, p, overdue=late)
            for m, _ in FAMILY_SIZES for s, _ in STAGES for p, _ in PRIORITIES
            for late in ((False, True) if s != Stage.CLOSED else (False,))
        }
        self.template_seconds = time.perf_counter() - started

    def identity(self, i: int) -> tuple[SyntheticIdentity, Template]:
        rng = random.Random(self.seed * 1_000_003 + i)
        office = _pick(rng, OFFICES)
        members = _pick(rng, FAMILY_SIZES)
        stage = _pick(rng, STAGES)
        priority = _pick(rng, PRIORITIES)
        template = self.templates[(members, stage, priority, False)]
        surname = rng.choice(SURNAMES)
        names, dobs = [], []
        for k in range(1, members + 1):
            female = k % 2 == 1
            given = rng.choice(GIVEN_F if female else GIVEN_M)
            names.append(f"{given} {surname}")
            year = rng.randint(1965, 2000) if k <= 2 else rng.randint(2005, 2022)
            dobs.append(f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        # Open cases entered their stage recently (some overdue); closed ones span three years.
        if stage == Stage.CLOSED:
            referred = self.now - template.span - timedelta(days=rng.uniform(1, 3 * 365))
        else:
            referred = self.now - template.span - timedelta(days=rng.uniform(0, 45), minutes=rng.uniform(0, 1440))
        # A case whose deadline has passed was ticked by its timer: it has an overdue, escalated task.
        late = self.templates.get((members, stage, priority, True))
        if late is not None and late.tick_at is not None and referred + late.tick_at <= self.now:
            template = late
        ext = f"{self.prefix}-{i:07d}"
        caseworker = {"IST": "ayse", "IZM": "mehmet"}.get(office, f"cw.{office.lower()}")
        ident = SyntheticIdentity(number=i, external_referral_id=ext, case_id=case_id_for(ext), office=office,
                                  caseworker=caseworker, names=names, dobs=dobs, shift=referred - T0)
        return ident, template

    def make(self, i: int) -> tuple[list[RecordedEvent], CaseState]:
        ident, template = self.identity(i)
        referral_json = _fill(template.referral_parts, ident, self.run)
        fingerprint = hashlib.sha256(referral_json.encode()).hexdigest()[:32]
        events = _EVENTS.validate_json(_fill(template.parts, ident, self.run, fingerprint))
        state = fold(events)
        assert state is not None
        return events, state


# --- writing through record_case_events -----------------------------------------------------------


class _NoTransaction:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class UnsupportedCall(RuntimeError):
    pass


class BatchingConnection:
    """Stands in for an asyncpg connection while ``record_case_events`` runs for a batch of
    *new* cases: it records each statement and its arguments (answering as a fresh insert
    would), and ``flush`` sends every statement kind with one pipelined ``executemany``, in
    first-use order, in one transaction.  The statements and arguments are the projection
    code's own; only the transport is batched.  Any call it does not know raises
    ``UnsupportedCall`` so the caller falls back to the direct path."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[Any, ...]]] = {}

    def transaction(self) -> _NoTransaction:
        return _NoTransaction()

    def _record(self, sql: str, args: tuple[Any, ...]) -> None:
        self.calls.setdefault(sql, []).append(args)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if "INSERT INTO case_events" not in sql or "RETURNING seq" not in sql:
            raise UnsupportedCall(sql[:60])
        self._record(sql, args)
        return [{"seq": seq} for seq in args[1]]  # a fresh case: every event is new

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if "INSERT INTO cases" not in sql or "RETURNING version" not in sql:
            raise UnsupportedCall(sql[:60])
        self._record(sql, args)
        return 1  # any value: the row was written

    async def execute(self, sql: str, *args: Any) -> str:
        if sql.lstrip().startswith("NOTIFY") and not args:
            self.calls[sql] = [()]  # the webhook outbox's wake-up: once per batch, delivered at its commit
            return "NOTIFY"
        if not sql.lstrip().startswith("INSERT"):
            raise UnsupportedCall(sql[:60])
        self._record(sql, args)
        return "INSERT 0 1"

    def __getattr__(self, name: str) -> Any:
        raise UnsupportedCall(name)

    async def flush(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            for sql, rows in self.calls.items():
                await conn.executemany(sql, rows)
        self.calls.clear()


@dataclass
class SeedReport:
    cases: int
    events: int
    seconds: float
    path: str
    template_seconds: float
    connections: int
    batch: int

    @property
    def cases_per_s(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


async def seed(pool: asyncpg.Pool, synthetic: SyntheticCases, start: int, stop: int, *, path: str = "batched",
               batch: int = 250, connections: int = 3, on_progress: Callable[[int], None] | None = None) -> SeedReport:
    """Write synthetic cases ``start``..``stop - 1`` through ``record_case_events``."""
    started = time.perf_counter()
    numbers = iter(range(start, stop, batch))
    events_written = 0
    used_path = path

    async def write_batch(conn: asyncpg.Connection, first: int, last: int) -> int:
        nonlocal used_path
        made = [synthetic.make(i) for i in range(first, last)]
        if used_path == "batched":
            proxy = BatchingConnection()
            try:
                for events, state in made:
                    await record_case_events(proxy, events, state)  # type: ignore[arg-type]
                await proxy.flush(conn)
                return sum(len(e) for e, _ in made)
            except UnsupportedCall:
                used_path = "direct"  # the projection code changed shape: use it as is
        async with conn.transaction():
            for events, state in made:
                await record_case_events(conn, events, state)
        return sum(len(e) for e, _ in made)

    async def lane() -> None:
        nonlocal events_written
        async with pool.acquire() as conn:
            for first in numbers:
                last = min(first + batch, stop)
                written = await write_batch(conn, first, last)
                events_written += written
                if on_progress:
                    on_progress(last - first)
                await asyncio.sleep(0)

    await asyncio.gather(*(lane() for _ in range(connections)))
    return SeedReport(cases=stop - start, events=events_written, seconds=time.perf_counter() - started,
                      path=used_path, template_seconds=synthetic.template_seconds, connections=connections,
                      batch=batch)


# --- several processes: generation is CPU-bound Python, so use every core ------------------------


def _seed_process(database_url: str, run: int, prefix: str, seed_value: int, now: datetime, start: int, stop: int,
                  path: str, batch: int, connections: int, counter: Any, results: Any) -> None:
    import gc

    from store.db import create_pool

    async def main() -> SeedReport:
        synthetic = SyntheticCases(run=run, prefix=prefix, seed=seed_value, now=now)
        gc.freeze()   # the templates live for the whole process
        gc.disable()  # short-lived process, acyclic garbage: collection only costs time here
        pool = await create_pool(database_url, min_size=connections, max_size=connections)
        try:
            def progress(n: int) -> None:
                with counter.get_lock():
                    counter.value += n

            return await seed(pool, synthetic, start, stop, path=path, batch=batch, connections=connections,
                              on_progress=progress)
        finally:
            await pool.close()

    try:
        report = asyncio.run(main())
        results.put(("ok", report.__dict__))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


async def seed_parallel(database_url: str, *, run: int, prefix: str, start: int, stop: int, processes: int = 2,
                        path: str = "batched", batch: int = 250, connections: int = 2, seed_value: int = 7,
                        now: datetime | None = None,
                        on_progress: Callable[[int], None] | None = None) -> SeedReport:
    """``seed`` split over ``processes`` processes (contiguous slices of the case numbers)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    results = ctx.Queue()
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    bounds = [start + (stop - start) * k // processes for k in range(processes + 1)]
    children = [
        ctx.Process(target=_seed_process, daemon=True,
                    args=(database_url, run, prefix, seed_value, now, bounds[k], bounds[k + 1], path, batch,
                          connections, counter, results))
        for k in range(processes) if bounds[k + 1] > bounds[k]
    ]
    for child in children:
        child.start()
    reported = 0
    reports: list[dict[str, Any]] = []
    try:
        while len(reports) < len(children):
            while not results.empty():
                status, payload = results.get()
                if status != "ok":
                    raise RuntimeError(f"seeding failed in a child process: {payload}")
                reports.append(payload)
            if any(c.exitcode not in (None, 0) for c in children) and results.empty():
                raise RuntimeError("a seeding process died: " + ", ".join(str(c.exitcode) for c in children))
            value = counter.value
            if on_progress and value > reported:
                on_progress(value - reported)
                reported = value
            await asyncio.sleep(0.2)
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
    if on_progress and counter.value > reported:
        on_progress(counter.value - reported)
    return SeedReport(cases=stop - start, events=sum(r["events"] for r in reports),
                      seconds=time.perf_counter() - started,
                      path="+".join(sorted({r["path"] for r in reports})),
                      template_seconds=max(r["template_seconds"] for r in reports),
                      connections=connections * len(children), batch=batch)
