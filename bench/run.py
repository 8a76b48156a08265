"""``python -m bench``: run every workload on one stack, write JSON + Markdown results.

    python -m bench                 full run (about 10 minutes on 2 cores)
    python -m bench --quick         same code paths, small counts (under a minute): CI uses it
    python -m bench --out DIR       where results go (default bench/results)

See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import temporalio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.procmon import ProcessMonitor
from bench.report import render_markdown, summarize, update_readme
from bench.stack import REPO_ROOT, BenchStack
from bench.phase import Phase
from bench.charter import charter
from bench.webhook_lag import webhook_lag
from bench.workloads import CALLER_RECORDED, RECORDED_BASELINES, Bench, PhaseFailed

DEFAULT_OUT = REPO_ROOT / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    concurrency: tuple[int, ...]
    cases: dict[int, int]         # full cases per concurrency (workloads 1 and 2)
    bulk: dict[int, int]          # referrals / starts per concurrency (workload 3)
    levels: tuple[int, int]       # cases in the read model (workload 4)
    requests: dict[int, int]      # read-model requests per concurrency and level
    warmup: int
    seed_processes: int = 2
    import_rows: int = 5_000      # referrals in the bulk import file (workload 5)
    import_baseline_concurrency: int = 50
    charter_cases: int = 60       # a charter's manifest (workload 6): cases of 1-7 people ...
    charter_people: int = 200     # ... and everyone on it
    webhook_cases: int = 50       # one-person cases whose events are delivered to a receiver (workload 7)


FULL = Plan(concurrency=(1, 20, 50), cases={1: 20, 20: 200, 50: 300}, bulk={1: 100, 20: 600, 50: 1000},
            levels=(1_000, 100_000), requests={1: 450, 20: 900, 50: 900}, warmup=5)
# Quick: the same phases at lower concurrency (a phase at concurrency 50 needs 50 full cases).
QUICK = Plan(concurrency=(1, 5, 10), cases={1: 2, 5: 5, 10: 10}, bulk={1: 5, 5: 10, 10: 20},
             levels=(200, 1_000), requests={1: 18, 5: 36, 10: 60}, warmup=1, seed_processes=1, import_rows=60,
             import_baseline_concurrency=10, charter_cases=6, charter_people=20, webhook_cases=5)


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        return {"commit": git("rev-parse", "--short", "HEAD") or None, "dirty": bool(git("--no-optional-locks", "status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _machine() -> dict[str, Any]:
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_total_mb": round(psutil.virtual_memory().total / 2**20),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio_sdk": temporalio.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def with_options(plan: Plan, concurrency: str | None) -> Plan:
    """The plan at other concurrency levels (counts of unknown levels scale with the level)."""
    if not concurrency:
        return plan
    levels = tuple(int(c) for c in concurrency.split(","))
    if any(c < 1 for c in levels):
        raise SystemExit("--concurrency: positive integers, e.g. 1,20,50")
    quick = plan is QUICK
    return Plan(concurrency=levels,
                cases={c: plan.cases.get(c, c if quick else max(20, 6 * c)) for c in levels},
                bulk={c: plan.bulk.get(c, 4 * c if quick else max(100, 20 * c)) for c in levels},
                levels=plan.levels, requests={c: plan.requests.get(c, max(18, 6 * c) if quick else 900) for c in levels},
                warmup=plan.warmup, seed_processes=plan.seed_processes, import_rows=plan.import_rows,
                import_baseline_concurrency=plan.import_baseline_concurrency, charter_cases=plan.charter_cases,
                charter_people=plan.charter_people, webhook_cases=plan.webhook_cases)


async def run(plan: Plan, *, quick: bool, members: int, keep: bool, console: Console,
              workloads: set[int] = frozenset({1, 2, 3, 4, 5, 6, 7, 8}),  # type: ignore[assignment]
              profile_dir: Path | None = None) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    stack = BenchStack(keep=keep)
    monitor = ProcessMonitor()
    phases: dict[str, dict[int, Phase]] = {"baseline": {}, "itinera_http": {}, "bulk_baseline": {},
                                           "bulk_itinera": {}, "bulk_itinera_async": {},
                                           **{kind: {} for kind in (*RECORDED_BASELINES, CALLER_RECORDED)}}
    extra: dict[str, Any] = {}
    readmodel: dict[str, Any] = {"levels": {}, "seed": []}
    bench: Bench | None = None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console)
    try:
        with progress:
            await stack.start(say=progress.console.log)
            progress.console.log("stack ready")
            for name, pid in stack.pids().items():
                monitor.watch(name, pid)
            if (postmaster := stack.postmaster_pid()) is not None:
                monitor.watch("postgres", postmaster, tree=True)
            monitor.watch("bench_client", os.getpid())
            bench = Bench(stack, monitor, progress, members=members, profile_dir=profile_dir)
            await bench.login_all()

            # Warm both paths (imports, connections, caches) outside the measurements.
            await bench.phase("baseline", "warm-up: baseline", plan.warmup, plan.warmup, bench.baseline_case,
                              measure=False)
            await bench.phase("itinera_http", "warm-up: Itinera", plan.warmup, plan.warmup, bench.itinera_case,
                              measure=False)
            for kind, workflow in RECORDED_BASELINES.items() if 8 in workloads else ():
                await bench.phase(kind, f"warm-up: {kind}", plan.warmup, plan.warmup,
                                  lambda ph, i, w=workflow: bench.baseline_case(ph, i, w), measure=False)

            # 1 + 2 (+ 8), interleaved per concurrency so all see the same server state.
            for c in plan.concurrency if workloads & {1, 2, 8} else ():
                if 1 in workloads:
                    phases["baseline"][c] = await bench.phase(
                        "baseline", f"1 baseline, bare Temporal      c={c:<3}", plan.cases[c], c, bench.baseline_case)
                if 2 in workloads:
                    phases["itinera_http"][c] = await bench.phase(
                        "itinera_http", f"2 Itinera through HTTP         c={c:<3}", plan.cases[c], c,
                        bench.itinera_case)
                for n, (kind, workflow) in enumerate(RECORDED_BASELINES.items() if 8 in workloads else ()):
                    label = ("8 recorded by an activity", "8 recorded by a local activity")[n]
                    phases[kind][c] = await bench.phase(kind, f"{label:<30} c={c:<3}", plan.cases[c], c,
                                                        lambda ph, i, w=workflow: bench.baseline_case(ph, i, w))
                if 8 in workloads:
                    phases[CALLER_RECORDED][c] = await bench.phase(
                        CALLER_RECORDED, f"{'8 recorded by the caller':<30} c={c:<3}", plan.cases[c], c,
                        bench.caller_recorded_case)

            # History events per full case (outside any timing).
            first = plan.concurrency[0]
            extra["history"] = {
                "baseline": await bench.history(phases["baseline"][first].ids if 1 in workloads else []),
                "itinera": await bench.history(phases["itinera_http"][first].ids if 2 in workloads else []),
                **{kind: await bench.history(phases[kind][first].ids) for kind in (*RECORDED_BASELINES, CALLER_RECORDED)
                   if 8 in workloads},
            }
            if 2 in workloads:
                family = await bench.phase("itinera_http", "   Itinera, one family of 7 (history)", 1, 1,
                                           lambda ph, i: bench.itinera_case(ph, i, members=7), measure=False)
                extra["history"]["itinera_family_of_7"] = {
                    **await bench.history(family.ids), "updates_per_case": family.extra.get("updates_per_case"),
                    "errors": family.errors}

            # 3. bulk referral.
            for c in plan.concurrency if 3 in workloads else ():
                phases["bulk_baseline"][c] = await bench.phase(
                    "bulk_baseline", f"3 bulk: bare start_workflow   c={c:<3}", plan.bulk[c], c, bench.bulk_baseline)
                phases["bulk_itinera"][c] = await bench.phase(
                    "bulk_itinera", f"3 bulk: POST /api/v1/cases    c={c:<3}", plan.bulk[c], c, bench.bulk_itinera)
                ph = phases["bulk_itinera_async"][c] = await bench.phase(
                    "bulk_itinera_async", f"3 bulk: ... respond-async   c={c:<3}", plan.bulk[c], c,
                    bench.bulk_itinera_async)
                # the accepted referrals recorded before the next phase (not timed with the phase)
                ph.extra["all_recorded_after_s"] = round(await bench.recorded(ph.ids), 3)

            # 5. bulk import: a file of N referrals through POST /api/v1/imports (the ReferralImport
            # workflow) against N bare start_workflow calls, same run.
            if 5 in workloads:
                extra["bulk_import"] = await bench.bulk_import(plan.import_rows, plan.import_baseline_concurrency)
                progress.console.log(f"bulk import: {extra['bulk_import']['referrals_per_s']} referrals/s vs "
                                     f"{extra['bulk_import']['baseline_starts_per_s']} starts/s "
                                     f"(ratio {extra['bulk_import']['ratio']})")

            # 6. a charter's departure fanned out to every case on its manifest (issue 13).
            if 6 in workloads:
                extra["charter"] = await charter(bench, plan.charter_cases, plan.charter_people)
                progress.console.log(f"charter: departure of {extra['charter']['people']} people in "
                                     f"{extra['charter']['cases']} cases recorded in {extra['charter']['departure_s']} s "
                                     f"vs {extra['charter']['baseline_s']} s for as many bare updates "
                                     f"(ratio {extra['charter']['ratio']})")

            # 7. webhook lag: from a case event to its signed delivery at a partner (issue 14).
            if 7 in workloads:
                extra["webhooks"] = await webhook_lag(bench, plan.webhook_cases)
                hooks = extra["webhooks"]
                progress.console.log(f"webhooks: {hooks['deliveries']}/{hooks['expected']} delivered, lag p50 "
                                     f"{hooks['lag_p50_s']} s, p99 {hooks['lag_p99_s']} s, max {hooks['lag_max_s']} s")

            # `itinera check` over every case made through the API (before the read model is
            # seeded with synthetic cases that have no workflow).
            checked = [i for kind in ("itinera_http", "bulk_itinera", "bulk_itinera_async") for ph in phases[kind].values() for i in ph.ids]
            checked += extra.get("bulk_import", {}).pop("case_ids", [])[:500]
            extra["consistency"] = await bench.consistency(checked)
            progress.console.log(f"itinera check: {extra['consistency']['cases_checked']} cases, "
                                 f"{extra['consistency']['difference_count']} differences")

            # 4. read model at scale.
            if 4 not in workloads:
                plan = replace(plan, levels=())  # type: ignore[arg-type]
            synthetic_args = {"run": int(stack.run_id, 16) & 0xFFFF, "prefix": f"BENCH-{stack.run_id}-RM"}
            have = await bench.readmodel_count()
            readmodel["initial_cases"] = have
            seeded = 0
            for level in plan.levels:
                if have < level:
                    readmodel["seed"].append(await bench.seed_readmodel(
                        synthetic_args, seeded, seeded + level - have, f"4 seed read model to {level:,} cases",
                        plan.seed_processes))
                    seeded += level - have
                have = await bench.readmodel_count()
                everything = await bench.readmodel_queries()
                # The pages people work from (case lists, inboxes) carry the target; the supervisors'
                # reports are aggregates over the office's data, so they grow with it by nature:
                # timed in a phase of their own (concurrency 1), so they neither count in the
                # pages' p99 nor slow the pages down by sharing the server with them.
                queries = [q for q in everything if not q[0].startswith("report:")]
                reports = [q for q in everything if q[0].startswith("report:")]
                await bench.phase("read_model", f"   warm-up queries at {level:,}", len(everything) * 2, 1,
                                  lambda ph, i, q=everything: bench.read_query(q, ph, i), measure=False)
                per_c: dict[int, Any] = {}
                for c in plan.concurrency:
                    ph = await bench.phase("read_model", f"4 read model {level:>7,} cases c={c:<3}",
                                           plan.requests[c], c, lambda ph, i, q=queries: bench.read_query(q, ph, i))
                    per_c[c] = ph
                report_phase = await bench.phase("read_model", f"4 reports    {level:>7,} cases c=1  ",
                                                 len(reports) * (2 if quick else 6), 1,
                                                 lambda ph, i, q=reports: bench.read_query(q, ph, i))
                readmodel["levels"][level] = {"cases": have, "phases": per_c, "reports": report_phase}
            readmodel["claims_note"] = "no task is claimed in the read-model database"
    finally:
        if bench is not None:
            await bench.close()
        hwm = monitor.high_water_marks_mb()
        monitor.close()
        console.log("stopping the stack")
        await stack.stop()
        console.log("stopped")

    return summarize(
        plan=plan, quick=quick, members=members, started_at=started_at, duration_s=time.perf_counter() - started,
        machine={**_machine(), **{k: stack.info.get(k) for k in ("temporal_server_version", "temporal_cli_version",
                                                                 "postgresql_version")}},
        git=_git(), stack=stack.info, phases=phases, extra=extra, readmodel=readmodel,
        ryw=bench.ryw.as_dict() if bench else {}, high_water_marks_mb=hwm,
    )


def write_results(results: dict[str, Any], out: Path, *, tag: str, readme: bool) -> list[Path]:
    """``tag`` is "" for a full run, else "quick" / "partial": those never replace latest.json."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")[:15]
    suffix = f"-{tag}" if tag else ""
    text = json.dumps(results, indent=2, sort_keys=False)
    markdown = render_markdown(results)
    paths = [out / f"{stamp}{suffix}.json", out / f"latest{suffix}.json", out / f"latest{suffix}.md"]
    for path, content in zip(paths, (text, text, markdown)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content + "\n")
        tmp.replace(path)
    if readme and not tag:
        update_readme(REPO_ROOT / "bench" / "README.md", markdown)
        paths.append(REPO_ROOT / "bench" / "README.md")
    return paths


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, same code paths (CI)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default: bench/results)")
    parser.add_argument("--members", type=int, default=1, choices=range(1, 8), metavar="1-7",
                        help="people on each case of workload 2 (default 1: one update per stage, like the baseline)")
    parser.add_argument("--no-readme", action="store_true", help="do not update the results block of bench/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the stack's data folder (logs, databases)")
    parser.add_argument("--concurrency", help="comma-separated levels instead of 1,20,50 (for experiments)")
    parser.add_argument("--workloads", default="1,2,3,4,5,6,7,8", help="which workloads to run (default 1,2,3,4,5,6,7,8)")
    parser.add_argument("--import-rows", type=int, help="referrals in the bulk import file (default 5000; quick 60)")
    parser.add_argument("--charter-cases", type=int, help="cases on the charter of workload 6 (default 60; quick 6)")
    parser.add_argument("--charter-people", type=int, help="people on that charter (default 200; quick 20)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the processes with py-spy during workloads 1 and 2 and write summaries to DIR "
                             "(bench/profile.py)")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    # SIGTERM (a CI timeout, `kill`) stops the run like Ctrl-C: the stack's processes are stopped too.
    signal.signal(signal.SIGTERM, _interrupt)
    plan = with_options(QUICK if args.quick else FULL, args.concurrency)
    if args.import_rows:
        plan = replace(plan, import_rows=args.import_rows)
    if args.charter_cases or args.charter_people:
        plan = replace(plan, charter_cases=args.charter_cases or plan.charter_cases,
                       charter_people=args.charter_people or plan.charter_people)
    workloads = {int(w) for w in args.workloads.split(",")}
    try:
        results = asyncio.run(run(plan, quick=args.quick, members=args.members, keep=args.keep, console=console,
                                  workloads=workloads, profile_dir=args.profile))
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    except PhaseFailed as exc:
        console.print(f"[red]benchmark stopped: {exc}[/red]")
        return 1
    partial = (bool(args.concurrency) or workloads != {1, 2, 3, 4, 5, 6, 7, 8} or args.members != 1 or bool(args.import_rows)
               or bool(args.charter_cases or args.charter_people))
    tag = "quick" if args.quick else ("partial" if partial else "")
    results["mode"] = tag or "full"
    paths = write_results(results, args.out, tag=tag, readme=not args.no_readme)
    print(render_markdown(results), flush=True)  # plain Markdown on stdout; progress went to stderr
    for path in paths:
        console.print(f"wrote {path}")
    errors = results["errors"]
    if errors:
        console.print(f"[red]{errors} operations failed; see error_samples in the JSON[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
