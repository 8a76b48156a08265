"""The four workloads.  Each phase is closed-loop: ``concurrency`` lanes, each starting its next
case as soon as its previous one finished, until ``total`` cases (or requests) are done.

1. baseline       bare Temporal: start a BaselineCase workflow, then 7 updates (one per stage).
8. recorded       the same with each update's row written to PostgreSQL by a regular activity
                  before it answers, again by a local activity (``bench.recorded_baseline``), and
                  by the caller after the answer.
2. itinera_http   a full resettlement case through the HTTP API: POST /api/v1/cases, then for
                  each open task: claim, complete with a realistic form, and GET the case
                  at once to check read-your-writes; until the case is closed.
3. bulk_referral  N referrals (POST /api/v1/cases) vs N bare ``start_workflow`` calls.
4. read_model     the case list and the inbox (GET /api/v1/cases, GET /api/v1/tasks) with
                  1,000 and 100,000 cases in the read model.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.progress import Progress
from temporalio.client import Client

from bench import profile
from bench.baseline_workflow import STAGES, BaselineCaseWorkflow, StageCompletion
from bench.recorded_baseline import LocalRecordedCaseWorkflow, RecordedCaseWorkflow
from bench.http import Http
from bench.phase import Phase, ReadYourWrites
from bench.procmon import ProcessMonitor
from bench.seed import SURNAMES, seed_parallel
from bench.stack import BenchStack
from bench.stats import Latencies
from demo.driver import example_form
from demo.users import DEMO_PASSWORD, DEMO_USERS
from domain.tasks import TaskType

# Who works which role in which office (the demo accounts).
WORKER: dict[tuple[str, str], str] = {}
for _username, _, _role, _offices in DEMO_USERS:
    for _office in _offices:
        WORKER.setdefault((_role.value, _office), _username)

# The baseline carries, per stage, the form of that stage's first Itinera task: same payloads.
FIRST_TASK = {"referral": TaskType.VERIFY_REFERRAL, "interview": TaskType.CONDUCT_INTERVIEW,
              "health": TaskType.ASSESS_HEALTH, "orientation": TaskType.RECORD_ORIENTATION,
              "visa": TaskType.RECORD_VISA, "movement": TaskType.BOOK_MOVEMENT, "arrival": TaskType.CONFIRM_ARRIVAL}
BASELINE_FORMS: dict[str, dict[str, Any]] = {
    stage: example_form({"task_type": FIRST_TASK[stage].value, "task_id": f"BENCH-T{n:02d}"}, datetime.now(UTC).date())
    for n, stage in enumerate(STAGES, start=1)
}

GIVEN = ["Amina", "Yusuf", "Layla", "Omar", "Rania", "Ahmad", "Zahra", "Hassan", "Dilan", "Mustafa", "Shirin"]
FAMILY = [("principal", "female", "1987-05-12"), ("spouse", "male", "1984-02-03"), ("child", "male", "2010-02-03"),
          ("child", "female", "2012-09-18"), ("child", "male", "2014-07-02"), ("child", "female", "2016-11-25"),
          ("child", "male", "2019-04-09")]


def referral_body(external_id: str, office: str, members: int, n: int) -> dict[str, Any]:
    surname = SURNAMES[n % len(SURNAMES)]
    people = [{"full_name": f"{GIVEN[(n + k) % len(GIVEN)]} {surname}", "date_of_birth": dob, "sex": sex,
               "nationality": "SY", "relationship": rel} for k, (rel, sex, dob) in enumerate(FAMILY[:members])]
    return {"programme": "resettlement", "office": office, "priority": "normal", "destination_country": "NO",
            "external_referral_id": external_id, "members": people}


# The baseline workflows a case can run as (workloads 1 and 8).
BaselineKind = type[BaselineCaseWorkflow] | type[RecordedCaseWorkflow] | type[LocalRecordedCaseWorkflow]
RECORDED_BASELINES: dict[str, BaselineKind] = {"recorded_baseline": RecordedCaseWorkflow,
                                               "recorded_local_baseline": LocalRecordedCaseWorkflow}
CALLER_RECORDED = "caller_recorded_baseline"  # the bare workflow; the caller writes the row after the answer


class PhaseFailed(RuntimeError):
    """Most of a phase failed: the run stops (non-zero exit) rather than measure a broken stack."""


class Bench:
    def __init__(self, stack: BenchStack, monitor: ProcessMonitor, progress: Progress, *, members: int = 1,
                 profile_dir: Path | None = None):
        self.stack = stack
        # With --profile: py-spy samples the processes during each measured phase of workloads 1-2.
        self.profile_dir = profile_dir
        self.monitor = monitor
        self.progress = progress
        self.members = members
        self.run = stack.run_id
        # 90 s: longer than the API's own 60 s limit on a command, so its 503 is what we see.
        self.http = Http(stack.api_url, timeout=90)
        self.rm_http = Http(stack.readmodel_api_url, timeout=90)
        self.tokens: dict[tuple[str, str], dict[str, str]] = {}
        self.ryw = ReadYourWrites()
        self._serial = itertools.count(1)
        self._pool: asyncpg.Pool | None = None  # workload 8's caller-recorded variant

    async def close(self) -> None:
        await self.http.close()
        await self.rm_http.close()
        if self._pool is not None:
            await self._pool.close()

    @property
    def bare(self) -> Client:
        assert self.stack.bare_client is not None
        return self.stack.bare_client

    @property
    def itinera(self) -> Client:
        assert self.stack.itinera_client is not None
        return self.stack.itinera_client

    async def login_all(self) -> None:
        for client in (self.http, self.rm_http):
            for username, *_ in DEMO_USERS:
                answer = await client.call("POST", "/api/v1/auth/token", 200,
                                           form={"username": username, "password": DEMO_PASSWORD})
                self.tokens[(client.base_url, username)] = {"Authorization": f"Bearer {answer['access_token']}"}

    def auth(self, username: str, client: Http | None = None) -> dict[str, str]:
        return self.tokens[((client or self.http).base_url, username)]

    # --- the phase loop -----------------------------------------------------------------------

    async def phase(self, workload: str, label: str, total: int, concurrency: int,
                    one: Callable[[Phase, int], Awaitable[None]], *, measure: bool = True) -> Phase:
        phase = Phase(workload=workload, concurrency=concurrency, total=total)
        task = self.progress.add_task(label, total=total)
        numbers = iter(range(total))

        async def lane() -> None:
            for i in numbers:
                try:
                    await one(phase, i)
                except Exception as exc:  # counted and reported; the run goes on
                    phase.errors.append(f"{type(exc).__name__}: {exc}"[:500])
                    if len(phase.errors) >= 3 and len(phase.errors) * 2 > total:
                        # Most of the phase fails (a hung or broken stack): stop the run now
                        # instead of waiting out every request's timeout.
                        raise PhaseFailed(f"{label.strip()}: {len(phase.errors)} of {total} failed; first: "
                                          f"{phase.errors[0]}") from exc
                self.progress.advance(task)

        self.stack.check_children()
        recording = None
        if measure and self.profile_dir is not None and workload in ("baseline", "itinera_http"):
            pids = {**self.stack.pids(), "bench_client": os.getpid()}
            recording = profile.Recording.start(self.profile_dir, f"{workload}-c{concurrency}", pids)
        if measure:
            self.monitor.begin()
        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(min(concurrency, total))))
        phase.wall_s = time.perf_counter() - started
        if measure:
            phase.usage = self.monitor.end()
        if recording is not None:
            for path in recording.stop():
                self.progress.console.log(f"profile: {path}")
        self.progress.update(task, description=f"{label} [dim]{phase.rate:.1f}/s[/dim]")
        self.stack.check_children()
        return phase

    # --- 1. baseline ----------------------------------------------------------------------------

    async def caller_recorded_case(self, phase: Phase, i: int) -> None:
        """Workload 8's fourth variant: the bare workflow, and the caller writes each Update's row
        after the answer (the "record after the answer" design: history first, PostgreSQL just
        after, by whoever sent the command; its CPU is in the bench client's column here)."""
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.stack.database_url, min_size=1, max_size=20)

        async def record(wf_id: str, seq: int, done: StageCompletion) -> None:
            assert self._pool is not None
            await self._pool.execute(
                "INSERT INTO bench_recorded_stages (case_id, seq, stage, actor, form) "
                "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (case_id, seq) DO NOTHING",
                wf_id, seq, done.stage, done.actor, json.dumps(done.form))

        await self.baseline_case(phase, i, after_update=record)

    async def baseline_case(self, phase: Phase, i: int, kind: BaselineKind = BaselineCaseWorkflow,
                            after_update: Callable[[str, int, StageCompletion], Awaitable[None]] | None = None
                            ) -> None:
        """A baseline case: bare (workload 1), or recorded by a regular or a local activity (8)."""
        wf_id = f"bench-{self.run}-{phase.workload}-{next(self._serial):06d}"
        lat = phase.latencies
        started = time.perf_counter()
        handle = await self.bare.start_workflow(kind.run, wf_id, id=wf_id, task_queue=self.stack.baseline_queue)
        lat.add("start", time.perf_counter() - started)
        for stage in STAGES:
            t = time.perf_counter()
            completion = StageCompletion(stage=stage, form=BASELINE_FORMS[stage], actor="ayse")
            outcome = await handle.execute_update(kind.complete_stage, completion)  # type: ignore[arg-type]
            if after_update is not None:
                await after_update(wf_id, outcome.version, completion)
            lat.add(f"update:{stage}", time.perf_counter() - t)
        lat.add("case", time.perf_counter() - started)
        if outcome.stage != "closed":
            raise RuntimeError(f"baseline case {wf_id} ended in {outcome.stage}")
        phase.ids.append(wf_id)

    # --- 2. Itinera through HTTP --------------------------------------------------------------

    def new_referral(self, kind: str, members: int | None = None) -> tuple[dict[str, Any], str]:
        n = next(self._serial)
        office = "IST" if n % 2 else "IZM"
        body = referral_body(f"BENCH-{self.run}-{kind}-{n:06d}", office, members or self.members, n)
        return body, office

    async def itinera_case(self, phase: Phase, i: int, *, members: int | None = None) -> None:
        lat = phase.latencies
        body, office = self.new_referral("case", members)
        started = time.perf_counter()
        case = await self.http.call("POST", "/api/v1/cases", 201, json_body=body,
                                    headers=self.auth(WORKER[("caseworker", office)]))
        lat.add("refer", time.perf_counter() - started)
        case_id = case["case_id"]
        updates = 1
        today = datetime.now(UTC).date()
        while case["open_tasks"]:
            task = case["open_tasks"][0]
            headers = self.auth(WORKER[(task["role"], office)])
            t = time.perf_counter()
            await self.http.call("POST", f"/api/v1/tasks/{task['task_id']}/claim", 200, headers=headers)
            lat.add("claim", time.perf_counter() - t)
            t = time.perf_counter()
            case = await self.http.call("POST", f"/api/v1/tasks/{task['task_id']}/complete", 200,
                                        json_body={"form": example_form(task, today)}, headers=headers)
            answered = time.perf_counter()
            lat.add(f"update:{task['stage']}", answered - t)
            updates += 1
            await self.check_read_your_writes(lat, case_id, task["task_id"], case["version"], answered, headers)
        lat.add("case", time.perf_counter() - started)
        if case["status"] != "closed":
            raise RuntimeError(f"case {case_id} stopped in {case['stage']} with no open task")
        phase.ids.append(case_id)
        phase.extra["updates_per_case"] = updates

    async def check_read_your_writes(self, lat: Latencies, case_id: str, task_id: str, version: int,
                                     answered: float, headers: dict[str, str]) -> None:
        first = True
        while True:
            t = time.perf_counter()
            got = await self.http.call("GET", f"/api/v1/cases/{case_id}", 200, headers=headers)
            if first:
                lat.add("get_case", time.perf_counter() - t)
            visible = got["version"] >= version and all(o["task_id"] != task_id for o in got["open_tasks"])
            if visible:
                self.ryw.checks += 1
                self.ryw.lags_ms.append(0.0 if first else (time.perf_counter() - answered) * 1000)
                return
            if first:
                self.ryw.misses += 1
            first = False
            if time.perf_counter() - answered > 30:
                raise RuntimeError(f"case {case_id}: completion of {task_id} not visible after 30 s")
            await asyncio.sleep(0.002)

    # --- history events -------------------------------------------------------------------------

    async def history(self, ids: list[str], sample: int = 5) -> dict[str, Any]:
        counts: list[int] = []
        types: Counter[str] = Counter()
        last: str | None = None
        for wf_id in ids[:sample]:
            history = await self.itinera.get_workflow_handle(wf_id).fetch_history()
            counts.append(len(history.events))
            if not types:
                from temporalio.api.enums.v1 import EventType

                types.update(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)
                last = EventType.Name(history.events[-1].event_type).removeprefix("EVENT_TYPE_")
        return {"sampled": len(counts), "events_per_case": int(statistics.median(counts)) if counts else None,
                "min": min(counts, default=None), "max": max(counts, default=None),
                "event_types_of_one_case": dict(types.most_common()), "last_event": last}

    # --- consistency ----------------------------------------------------------------------------

    async def consistency(self, ids: list[str]) -> dict[str, Any]:
        """``itinera check`` over the cases the run made through the API: after the load, the
        workflow, the event store and the read model of each must tell one story."""
        from consistency import wait_until_consistent
        from store.db import connect

        conn = await connect(self.stack.database_url)
        try:
            report = await wait_until_consistent(conn, self.itinera, ids, timeout=60)
        finally:
            await conn.close()
        return {"cases_checked": report.cases_checked, "differences": [str(d) for d in report.differences[:20]],
                "difference_count": len(report.differences)}

    # --- 3. bulk referral -----------------------------------------------------------------------

    async def bulk_itinera(self, phase: Phase, i: int) -> None:
        body, office = self.new_referral("bulk")
        t = time.perf_counter()
        case = await self.http.call("POST", "/api/v1/cases", 201, json_body=body,
                                    headers=self.auth(WORKER[("caseworker", office)]))
        phase.latencies.add("refer", time.perf_counter() - t)
        phase.ids.append(case["case_id"])

    async def bulk_itinera_async(self, phase: Phase, i: int) -> None:
        """The same referral with ``Prefer: respond-async``: answered 202 once the case's workflow
        has accepted it (validated, durable in history), before it is recorded."""
        body, office = self.new_referral("bulka")
        t = time.perf_counter()
        accepted = await self.http.call("POST", "/api/v1/cases", 202, json_body=body,
                                        headers={**self.auth(WORKER[("caseworker", office)]),
                                                 "Prefer": "respond-async"})
        phase.latencies.add("refer", time.perf_counter() - t)
        phase.ids.append(accepted["case_id"])

    async def recorded(self, case_ids: list[str], timeout: float = 300.0) -> float:
        """Wait until every case is in the read model (async referrals being recorded); seconds waited."""
        started = time.perf_counter()
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            while True:
                n = await conn.fetchval("SELECT count(*) FROM cases WHERE case_id = ANY($1::text[])", case_ids)
                if n >= len(case_ids) or time.perf_counter() - started > timeout:
                    return time.perf_counter() - started
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    async def bulk_baseline(self, phase: Phase, i: int) -> None:
        wf_id = f"bench-{self.run}-bulk-{next(self._serial):06d}"
        t = time.perf_counter()
        await self.bare.start_workflow(BaselineCaseWorkflow.run, wf_id, id=wf_id, task_queue=self.stack.baseline_queue)
        phase.latencies.add("start", time.perf_counter() - t)
        phase.ids.append(wf_id)

    # --- 5. bulk import -----------------------------------------------------------------------------

    async def bulk_import(self, rows: int, baseline_concurrency: int) -> dict[str, Any]:
        """A CSV of ``rows`` one-person referrals uploaded by a supervisor (POST /api/v1/imports)
        and followed until the ReferralImport workflow has decided every row, against ``rows``
        bare ``start_workflow`` calls at ``baseline_concurrency`` in the same run (just before)."""
        import csv
        import io

        baseline = await self.phase("bulk_baseline", f"5 import: bare start_workflow c={baseline_concurrency:<3}",
                                    rows, baseline_concurrency, self.bulk_baseline)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["external_referral_id", "programme", "office", "priority", "destination_country",
                         "full_name", "date_of_birth", "sex", "nationality", "relationship"])
        for n in range(rows):
            body = referral_body(f"BENCH-{self.run}-import-{n:06d}", "IST", 1, n)
            m = body["members"][0]
            writer.writerow([body["external_referral_id"], "resettlement", "IST", "normal", "NO", m["full_name"],
                             m["date_of_birth"], m["sex"], m["nationality"], m["relationship"]])
        content = out.getvalue().encode()
        headers = {**self.auth(WORKER[("supervisor", "IST")]), "Content-Type": "text/csv"}
        task = self.progress.add_task(f"5 import: POST /api/v1/imports ({rows:,} rows)", total=rows)
        self.monitor.begin()
        started = time.perf_counter()
        job = await self.http.call("POST", "/api/v1/imports", 202, content=content, headers=headers,
                                   params={"file_name": "bench.csv"})
        uploaded = time.perf_counter() - started
        shown = 0
        while job["status"] != "completed":
            await asyncio.sleep(0.5)
            job = await self.http.call("GET", f"/api/v1/imports/{job['import_id']}", 200, headers=headers)
            self.progress.advance(task, job["done"] - shown)
            shown = job["done"]
            if time.perf_counter() - started > 3600:
                raise PhaseFailed(f"bulk import {job['import_id']} not finished after an hour: {job['counts']}")
        seconds = time.perf_counter() - started
        usage = self.monitor.end()
        self.progress.advance(task, job["total"] - shown)
        created = job["counts"]["created"]
        rate = created / seconds if seconds else 0.0
        case_ids: list[str] = []
        after = 0
        while len(case_ids) < 500:
            page = await self.http.call("GET", f"/api/v1/imports/{job['import_id']}/rows", 200, headers=headers,
                                        params={"outcome": "created", "after": str(after), "limit": "500"})
            case_ids += [r["case_id"] for r in page["items"]]
            if page["next_after"] is None:
                break
            after = page["next_after"]
        self.progress.update(task, description=f"5 import: POST /api/v1/imports ({rows:,} rows) [dim]{rate:.1f}/s[/dim]")
        return {"referrals": rows, "import_id": job["import_id"], "counts": job["counts"], "created": created,
                "seconds": round(seconds, 2), "upload_s": round(uploaded, 3), "referrals_per_s": round(rate, 2),
                "baseline_starts_per_s": round(baseline.rate, 2), "baseline_concurrency": baseline_concurrency,
                "ratio": round(rate / baseline.rate, 3) if baseline.rate else None,
                "cpu_s": usage.as_dict().get("cpu_s", {}), "peak_rss_mb": usage.as_dict().get("peak_rss_mb", {}),
                "baseline_errors": len(baseline.errors), "case_ids": case_ids,
                "definition": "wall time from the upload request to the job's status 'completed' (every row "
                              "decided), created cases / that time; baseline: the same number of bare "
                              "start_workflow calls of the baseline workflow, closed-loop at the given concurrency"}

    # --- 4. read model at scale --------------------------------------------------------------------

    async def readmodel_count(self) -> int:
        conn = await asyncpg.connect(self.stack.readmodel_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM cases")
        finally:
            await conn.close()

    async def seed_readmodel(self, synthetic_args: dict[str, Any], start: int, stop: int, label: str,
                             processes: int) -> dict[str, Any]:
        task = self.progress.add_task(label, total=stop - start)
        report = await seed_parallel(self.stack.readmodel_url, start=start, stop=stop, processes=processes,
                                     on_progress=lambda n: self.progress.advance(task, n), **synthetic_args)
        t = time.perf_counter()
        conn = await asyncpg.connect(self.stack.readmodel_url)
        try:  # settle the new rows as autovacuum eventually would, so it does not run mid-measurement
            await conn.execute("VACUUM (ANALYZE) cases, case_members, tasks, task_claims, case_events")
        finally:
            await conn.close()
        vacuum_s = time.perf_counter() - t
        self.progress.update(task, description=f"{label} [dim]{report.cases_per_s:.0f} cases/s[/dim]")
        return {"cases": report.cases, "events": report.events, "seconds": round(report.seconds, 2),
                "cases_per_s": round(report.cases_per_s, 1), "write_path": report.path,
                "processes": processes, "connections": report.connections, "cases_per_transaction": report.batch,
                "template_build_s": round(report.template_seconds, 2), "vacuum_analyze_s": round(vacuum_s, 2)}

    async def readmodel_queries(self) -> list[tuple[str, str, str, dict[str, str]]]:
        """The queries, with a cursor five pages deep for the keyset-pagination case."""
        headers = self.auth("fatma", self.rm_http)
        cursor = None
        for _ in range(5):
            page = await self.rm_http.call("GET", "/api/v1/cases", 200, params={"cursor": cursor} if cursor else None,
                                           headers=headers)
            cursor = page["next_cursor"] or cursor
            if not page["next_cursor"]:
                break
        queries = [
            ("cases: office list (supervisor)", "fatma", "/api/v1/cases", {}),
            ("cases: stage=health", "fatma", "/api/v1/cases", {"stage": "health"}),
            ("cases: active + emergency", "fatma", "/api/v1/cases", {"status": "active", "priority": "emergency"}),
            ("cases: name search q=Haddad", "fatma", "/api/v1/cases", {"q": "Haddad"}),
            ("inbox: caseworker", "ayse", "/api/v1/tasks", {}),
            ("inbox: medical officer, overdue", "selin", "/api/v1/tasks", {"overdue": "true"}),
            ("inbox: movement officer, stage=movement", "emre", "/api/v1/tasks", {"stage": "movement"}),
            ("inbox: supervisor, unassigned", "fatma", "/api/v1/tasks", {"assignee": "unassigned"}),
            # The supervisors' figures (api/reports.py): aggregates over the office's whole read model.
            ("report: cases by stage now", "fatma", "/api/v1/reports/stages", {}),
            ("report: flows per month, 12 months", "fatma", "/api/v1/reports/flows", {"period": "month"}),
            ("report: people by nationality", "fatma", "/api/v1/reports/nationalities", {}),
            ("report: median days per stage + SLA", "fatma", "/api/v1/reports/stage-durations", {}),
            ("report: people trained", "fatma", "/api/v1/reports/training", {}),
        ]
        if cursor:
            queries.insert(4, ("cases: page 6 (keyset cursor)", "fatma", "/api/v1/cases", {"cursor": cursor}))
        return queries

    async def read_query(self, queries: list[tuple[str, str, str, dict[str, str]]], phase: Phase, i: int) -> None:
        name, user, path, params = queries[i % len(queries)]
        t = time.perf_counter()
        page = await self.rm_http.call("GET", path, 200, params=params or None, headers=self.auth(user, self.rm_http))
        phase.latencies.add(f"query:{name}", time.perf_counter() - t)
        phase.extra.setdefault("rows", {})[name] = len(page["items"] if "items" in page else page["rows"])

