"""Turn the measured phases into the results JSON, the Markdown table, and the README block."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import recording_price
from bench.baseline_workflow import STAGES
from bench.stats import percentile, ratio

SCHEMA = "itinera-bench/1"
README_START, README_END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def _r(v: float | None, n: int = 2) -> float | None:
    return None if v is None else round(v, n)


def _pct(values: list[float]) -> dict[str, float | None]:
    return {"p50_ms": _r(percentile(values, 50)), "p99_ms": _r(percentile(values, 99)), "n": len(values)}


def summarize(*, plan: Any, quick: bool, members: int, started_at: datetime, duration_s: float,
              machine: dict[str, Any], git: dict[str, Any], stack: dict[str, Any], phases: dict[str, dict[int, Any]],
              extra: dict[str, Any], readmodel: dict[str, Any], ryw: dict[str, Any],
              high_water_marks_mb: dict[str, float]) -> dict[str, Any]:
    base, it = phases["baseline"], phases["itinera_http"]
    bulk_b, bulk_i = phases["bulk_baseline"], phases["bulk_itinera"]
    bulk_a = phases.get("bulk_itinera_async", {})
    conc = list(plan.concurrency)

    throughput, latency, per_stage, resources, bulk = {}, {}, {}, {}, {}
    for c in conc:
        if c not in base or c not in it:
            continue
        b, i = base[c], it[c]
        throughput[c] = {"baseline_cases_per_s": _r(b.rate, 3), "itinera_cases_per_s": _r(i.rate, 3),
                         "ratio": ratio(i.rate, b.rate),
                         "baseline_updates_per_s": _r(b.rate * len(STAGES), 2),
                         "itinera_updates_per_s": _r(i.rate * (i.extra.get("updates_per_case") or 0), 2)}
        bu, iu = b.latencies.merged("update:"), i.latencies.merged("update:")
        latency[c] = {"baseline": _pct(bu), "itinera": _pct(iu),
                      "ratio_p50": ratio(percentile(iu, 50), percentile(bu, 50)),
                      "ratio_p99": ratio(percentile(iu, 99), percentile(bu, 99)),
                      "itinera_refer": _pct(i.latencies.samples.get("refer", [])),
                      "baseline_start": _pct(b.latencies.samples.get("start", [])),
                      "itinera_claim": _pct(i.latencies.samples.get("claim", [])),
                      "itinera_get_case": _pct(i.latencies.samples.get("get_case", []))}
        per_stage[c] = {}
        for stage in STAGES:
            bs, is_ = b.latencies.samples.get(f"update:{stage}", []), i.latencies.samples.get(f"update:{stage}", [])
            per_stage[c][stage] = {"baseline": _pct(bs), "itinera": _pct(is_), "itinera_updates": len(is_) // max(i.done, 1),
                                   "ratio_p50": ratio(percentile(is_, 50), percentile(bs, 50)),
                                   "ratio_p99": ratio(percentile(is_, 99), percentile(bs, 99))}
        resources[c] = {
            "itinera_cpu_s_per_case": {k: _r(v / i.done, 4) for k, v in i.usage.cpu_seconds.items()
                                       if k != "baseline_worker" and k != "readmodel_api"} if i.done else {},
            "baseline_cpu_s_per_case": {k: _r(v / b.done, 4) for k, v in b.usage.cpu_seconds.items()
                                        if k in ("baseline_worker", "temporal_server", "bench_client", "postgres")}
            if b.done else {},
            "itinera_peak_rss_mb": {k: v for k, v in i.usage.peak_rss_mb.items()
                                    if k in ("worker", "api", "temporal_server", "postgres", "bench_client")},
            "baseline_peak_rss_mb": {k: v for k, v in b.usage.peak_rss_mb.items()
                                     if k in ("baseline_worker", "temporal_server")},
        }
    for c in conc:
        if c in bulk_b and c in bulk_i:
            b, i = bulk_b[c], bulk_i[c]
            bulk[c] = {"baseline_starts_per_s": _r(b.rate, 2), "itinera_referrals_per_s": _r(i.rate, 2),
                       "ratio": ratio(i.rate, b.rate), "baseline_start": _pct(b.latencies.samples.get("start", [])),
                       "itinera_refer": _pct(i.latencies.samples.get("refer", []))}
            if (a := bulk_a.get(c)) is not None:
                # Prefer: respond-async (202 once accepted): the bulk sender's way, and the target's
                bulk[c].update({"itinera_async_referrals_per_s": _r(a.rate, 2), "ratio_async": ratio(a.rate, b.rate),
                                "itinera_async_refer": _pct(a.latencies.samples.get("refer", [])),
                                "async_all_recorded_after_s": a.extra.get("all_recorded_after_s")})

    rm_levels: dict[str, Any] = {}
    rm_ratio: dict[int, Any] = {}
    levels = list(readmodel.get("levels", {}))
    for level, data in readmodel.get("levels", {}).items():
        rm_levels[str(level)] = {"cases": data["cases"], "concurrency": {}}
        if (reports := data.get("reports")) is not None:
            rm_levels[str(level)]["reports"] = {"concurrency": 1, "per_query": reports.latencies.as_dict(),
                                                **_pct(reports.latencies.merged("query:")),
                                                "errors": len(reports.errors), "error_samples": reports.errors[:3]}
        for c, ph in data["phases"].items():
            allq = ph.latencies.merged("query:")
            rm_levels[str(level)]["concurrency"][str(c)] = {
                "requests_per_s": _r(ph.rate, 1), **_pct(allq),
                "per_query": ph.latencies.as_dict(), "rows_returned": ph.extra.get("rows", {}),
                "errors": len(ph.errors), "error_samples": ph.errors[:3],
                "cpu_s": ph.usage.as_dict()["cpu_s"] if ph.usage else {},
                "peak_rss_mb": ph.usage.as_dict()["peak_rss_mb"] if ph.usage else {}}
    if len(levels) == 2:
        lo, hi = (readmodel["levels"][lv]["phases"] for lv in levels)
        for c in conc:
            if c in lo and c in hi:
                p_lo, p_hi = percentile(lo[c].latencies.merged("query:"), 99), percentile(hi[c].latencies.merged("query:"), 99)
                rm_ratio[c] = {"p99_small_ms": _r(p_lo), "p99_large_ms": _r(p_hi), "ratio": ratio(p_hi, p_lo)}

    history = extra.get("history", {})
    targets = _targets(conc, throughput, per_stage, latency, history, bulk, rm_ratio, resources, ryw, levels)
    imported = extra.get("bulk_import")
    if imported:
        r = imported.get("ratio")
        targets.append(_target(
            "bulk_import", f"bulk import of {imported['referrals']:,} referrals (POST /api/v1/imports, a ReferralImport "
            "workflow) vs bare start_workflow", ">= 0.8x", r, r is not None and r >= 0.8,
            f"{imported['referrals_per_s']} vs {imported['baseline_starts_per_s']} per s"
            f" (ratio {r}; {imported['created']} created, {imported['seconds']} s)"))
    flown = extra.get("charter")
    if flown:
        r = flown.get("ratio")
        targets.append(_target(
            "charter", f"departure of a {flown['people']}-person charter of {flown['cases']} cases recorded on every "
            "case's workflow vs as many bare updates", "<= 1.5x", r, bool(flown.get("meets_target")),
            f"{flown['departure_s']} s vs {flown['baseline_s']} s (ratio {r}); movement history "
            f"{flown['movement_history_events']} events"))
    hooks = extra.get("webhooks")
    if hooks:
        targets.append(_target(
            "webhooks", f"webhook deliveries of {hooks['cases']} cases' stage changes and arrivals to a signed "
            "receiver: lag from the event to its arrival", "every event once (lag: no target)",
            hooks["lag_p99_s"], hooks["deliveries"] == hooks["expected"] and hooks["repeats"] == 0,
            f"{hooks['deliveries']}/{hooks['expected']} delivered, {hooks['repeats']} repeats; lag p50 "
            f"{hooks['lag_p50_s']} s, p95 {hooks['lag_p95_s']} s, p99 {hooks['lag_p99_s']} s, max {hooks['lag_max_s']} s"))
    consistency = extra.get("consistency")
    if consistency is not None:
        targets.append(_target(
            "consistency", "itinera check after the load: workflow, events and read model agree", "0 differences",
            consistency, consistency["difference_count"] == 0,
            f"{consistency['cases_checked']} cases, {consistency['difference_count']} differences"))
    errors = sum(len(ph.errors) for group in phases.values() for ph in group.values())
    errors += sum(len(ph.errors) for data in readmodel.get("levels", {}).values() for ph in data["phases"].values())
    errors += len(history.get("itinera_family_of_7", {}).get("errors", []))

    return {
        "schema": SCHEMA,
        "mode": "quick" if quick else "full",
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 1),
        "machine": machine,
        "git": git,
        "stack": stack,
        "config": {**{k: (v if not isinstance(v, dict) else {str(kk): vv for kk, vv in v.items()})
                      for k, v in asdict(plan).items()},
                   "members_per_case": members,
                   "itinera_case": f"{members}-person resettlement case: referral (POST /api/v1/cases, an "
                                   "update-with-start) then every task claimed and completed through the API until "
                                   "closed; after each completion one GET /api/v1/cases/{id} (read-your-writes check)",
                   "baseline_case": "start_workflow, then 7 execute_update calls with validators (one per stage); "
                                    "the workflow then completes",
                   "order": "for each concurrency: baseline, then Itinera (interleaved, same server state); then "
                            "bulk referral the same way; then the read model"},
        "comparison": {
            "throughput": _keys(throughput), "update_latency": _keys(latency), "per_stage": _keys(per_stage),
            "resources": _keys(resources), "bulk_referral": _keys(bulk),
            "read_model_p99_ratio": _keys(rm_ratio),
        },
        "history_events": history,
        "recording_price": _keys(recording_price.summarize(phases, conc, history)),
        "read_your_writes": ryw,
        "consistency": extra.get("consistency"),
        "bulk_import": extra.get("bulk_import"),
        "charter": extra.get("charter"),
        "webhooks": extra.get("webhooks"),
        "workloads": {
            "baseline": {str(c): ph.as_dict() for c, ph in base.items()},
            "itinera_http": {str(c): ph.as_dict() for c, ph in it.items()},
            **{kind: {str(c): ph.as_dict() for c, ph in phases.get(kind, {}).items()}
               for kind in ("recorded_baseline", "recorded_local_baseline", "caller_recorded_baseline")},
            "bulk_referral": {"baseline": {str(c): ph.as_dict("starts") for c, ph in bulk_b.items()},
                              "itinera": {str(c): ph.as_dict("referrals") for c, ph in bulk_i.items()},
                              "itinera_respond_async": {str(c): ph.as_dict("referrals") for c, ph in bulk_a.items()}},
            "read_model": {"seeding": readmodel.get("seed", []), "initial_cases": readmodel.get("initial_cases"),
                           "seeded_through": "store.projection.record_case_events (the recording activity's "
                                             "function), states from domain.case.decide/fold; see bench/seed.py",
                           "levels": rm_levels},
        },
        "high_water_marks_mb": high_water_marks_mb,
        "targets": targets,
        "errors": errors,
    }


def _keys(d: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in d.items()}


def _target(tid: str, description: str, goal: str, measured: Any, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"id": tid, "target": description, "goal": goal, "measured": measured, "met": met, "note": note}


def _targets(conc: list[int], throughput: dict, per_stage: dict, latency: dict, history: dict, bulk: dict,
             rm_ratio: dict, resources: dict, ryw: dict, levels: list[int]) -> list[dict[str, Any]]:
    out = []
    mid = 20 if 20 in throughput else (conc[len(conc) // 2] if conc else None)
    if mid in throughput:
        r = throughput[mid]["ratio"]
        out.append(_target("throughput_c20", f"Itinera cases/s at concurrency {mid} vs bare Temporal", ">= 0.7x",
                           r, r is not None and r >= 0.7,
                           f"{throughput[mid]['itinera_cases_per_s']} vs {throughput[mid]['baseline_cases_per_s']} cases/s"))
    for c in conc:
        if c not in per_stage:
            continue
        ratios = {s: v["ratio_p50"] for s, v in per_stage[c].items() if v["ratio_p50"] is not None}
        worst = max(ratios.items(), key=lambda kv: kv[1]) if ratios else (None, None)
        overall = latency[c]["ratio_p50"]
        out.append(_target(f"stage_p50_c{c}", f"per-stage p50 vs baseline, concurrency {c}", "<= 1.5x",
                           {"all_updates": overall, "worst_stage": worst[0], "worst_ratio": worst[1]},
                           worst[1] is not None and worst[1] <= 1.5,
                           f"all updates {overall}×; worst stage: {worst[0]} {worst[1]}×"))
    ev = history.get("itinera", {}).get("events_per_case")
    out.append(_target("history_events", "Temporal history events, full case without branches (1 person)", "<= 60",
                       ev, ev is not None and ev <= 60,
                       f"{ev} (baseline {history.get('baseline', {}).get('events_per_case')}; Itinera family of 7: "
                       f"{history.get('itinera_family_of_7', {}).get('events_per_case')})"))
    for c in conc:
        if c in bulk:
            b = bulk[c]
            if "ratio_async" in b:
                r = b["ratio_async"]
                out.append(_target(f"bulk_c{c}", f"bulk referral rate (Prefer: respond-async) vs bare start_workflow, "
                                   f"concurrency {c}", ">= 0.8x", r, r is not None and r >= 0.8,
                                   f"{b['itinera_async_referrals_per_s']} vs {b['baseline_starts_per_s']} per s "
                                   f"(waiting for the recording, 201: {b['itinera_referrals_per_s']} per s, "
                                   f"{b['ratio']}x)"))
                continue
            r = b["ratio"]
            out.append(_target(f"bulk_c{c}", f"bulk referral rate vs bare start_workflow, concurrency {c}", ">= 0.8x",
                               r, r is not None and r >= 0.8,
                               f"{b['itinera_referrals_per_s']} vs {b['baseline_starts_per_s']} per s"))
    for c in conc:
        if c in rm_ratio:
            r = rm_ratio[c]["ratio"]
            out.append(_target(f"read_model_c{c}",
                               f"read-model p99 at {levels[1]:,} cases / p99 at {levels[0]:,}, concurrency {c}",
                               "<= 2x", r, r is not None and r <= 2.0,
                               f"{rm_ratio[c]['p99_large_ms']} ms vs {rm_ratio[c]['p99_small_ms']} ms"))
    top = max(conc) if conc else None
    if top in resources:
        rss = resources[top]["itinera_peak_rss_mb"]
        for proc in ("worker", "api"):
            v = rss.get(proc)
            out.append(_target(f"rss_{proc}", f"{proc} peak resident memory at concurrency {top}", "< 300 MB",
                               v, v is not None and v < 300))
    out.append(_target("read_your_writes", "completion visible in GET /api/v1/cases/{id} on the first read",
                       "0 misses, 0 ms", {"misses": ryw.get("misses"), "max_lag_ms": ryw.get("max_lag_ms"),
                                          "checks": ryw.get("checks")},
                       ryw.get("misses") == 0 and ryw.get("checks", 0) > 0,
                       f"{ryw.get('misses')} misses in {ryw.get('checks')} reads; max lag {ryw.get('max_lag_ms')} ms"))
    return out


# --- Markdown ----------------------------------------------------------------------------------------


def _f(v: Any, n: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{n}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _x(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}×"


def _temporal(machine: dict[str, Any], stack: dict[str, Any]) -> str:
    cli = machine.get("temporal_cli_version")
    if cli:  # "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"
        return f"Temporal CLI dev server {cli.removeprefix('temporal version ')}, SQLite ({stack.get('sqlite_pragmas')})"
    return f"Temporal server {machine.get('temporal_server_version')}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    m, cmp_, cfg = results["machine"], results["comparison"], results["config"]
    h = results["history_events"]
    mode = {"quick": "quick mode (small counts: it checks the harness, not the numbers)",
            "partial": "partial run (some workloads or other concurrency levels)"}.get(results["mode"], "full run")
    git = results["git"]
    lines = [
        f"### Benchmark results: {mode}, {results['started_at']}",
        "",
        f"Machine: {m['cpu_count']} CPUs ({m.get('cpu_model') or 'unknown'}), {m['memory_total_mb'] / 1024:.1f} GiB RAM, "
        f"Python {m['python']}, {_temporal(m, results['stack'])}, PostgreSQL {m.get('postgresql_version')}, temporalio {m['temporalio_sdk']}; "
        f"load average at start {m.get('load_average_at_start')}; commit {git.get('commit')}"
        f"{' (uncommitted changes)' if git.get('dirty') else ''}; run took {results['duration_s']:.0f} s.",
        "",
        f"Itinera case: {cfg['itinera_case']}. Baseline case: {cfg['baseline_case']}. "
        "Both on the same Temporal server in the same run; ratios are Itinera / baseline.",
        "",
        "**Targets**",
        "",
    ]
    lines += _table(["target", "goal", "measured", ""],
                    [[t["target"], t["goal"], t["note"] or _f(t["measured"]), "met" if t["met"] else "**missed**"]
                     for t in results["targets"]])
    lines += ["", "**Full cases (workloads 1 and 2)**: cases/s, and latency of one stage's Update from the call to "
              "its answer (Itinera: `POST /api/v1/tasks/{id}/complete`; baseline: `execute_update`)", ""]
    rows = []
    for c, t in cmp_["throughput"].items():
        lat = cmp_["update_latency"][c]
        rows.append([c, _f(t["baseline_cases_per_s"], 2), _f(t["itinera_cases_per_s"], 2), _x(t["ratio"]),
                     f"{_f(lat['baseline']['p50_ms'])} / {_f(lat['baseline']['p99_ms'])}",
                     f"{_f(lat['itinera']['p50_ms'])} / {_f(lat['itinera']['p99_ms'])}",
                     _x(lat["ratio_p50"]), _x(lat["ratio_p99"]),
                     f"{_f(lat['baseline_start']['p50_ms'])} / {_f(lat['itinera_refer']['p50_ms'])}"])
    lines += _table(["concurrency", "baseline cases/s", "Itinera cases/s", "ratio", "baseline p50 / p99 ms",
                     "Itinera p50 / p99 ms", "p50 ratio", "p99 ratio", "start p50: baseline / Itinera referral ms"], rows)

    lines += ["", "**Per stage** (p50 / p99 ms of each Update; the baseline has one per stage, Itinera one per task)",
              ""]
    rows = []
    for c, stages in cmp_["per_stage"].items():
        for stage, v in stages.items():
            rows.append([c, stage, f"{_f(v['baseline']['p50_ms'])} / {_f(v['baseline']['p99_ms'])}",
                         f"{_f(v['itinera']['p50_ms'])} / {_f(v['itinera']['p99_ms'])}", v["itinera_updates"],
                         _x(v["ratio_p50"]), _x(v["ratio_p99"])])
    lines += _table(["concurrency", "stage", "baseline", "Itinera", "Itinera updates", "p50 ratio", "p99 ratio"],
                    rows)

    lines += ["", "**CPU seconds per case and peak resident memory** (the worker and the API are separate "
              "processes; PostgreSQL is the sum of its processes, best effort)", ""]
    rows = []
    for c, r in cmp_["resources"].items():
        ic, bc = r["itinera_cpu_s_per_case"], r["baseline_cpu_s_per_case"]
        ir, br = r["itinera_peak_rss_mb"], r["baseline_peak_rss_mb"]
        rows.append([c, _f(ic.get("worker"), 3), _f(ic.get("api"), 3), _f(ic.get("temporal_server"), 3),
                     _f(ic.get("postgres"), 3), _f(ic.get("bench_client"), 3),
                     _f(bc.get("baseline_worker"), 3), _f(bc.get("temporal_server"), 3), _f(bc.get("bench_client"), 3),
                     _f(ir.get("worker"), 0), _f(ir.get("api"), 0), _f(br.get("baseline_worker"), 0),
                     _f(ir.get("temporal_server"), 0)])
    lines += _table(["concurrency", "Itinera: worker CPU s", "API", "Temporal", "PostgreSQL", "client",
                     "baseline: worker CPU s", "Temporal", "client", "worker MB", "API MB",
                     "baseline worker MB", "Temporal MB"], rows)

    hwm = results.get("high_water_marks_mb") or {}
    if hwm:
        lines += ["", "Whole-run peak resident memory (the kernel's high-water mark, including the bulk referral, "
                  "after which every referred case's workflow sits open in the worker's cache): "
                  + ", ".join(f"{k} {v:,.0f} MB" for k, v in hwm.items() if k != "postgres") + "."]
    lines += ["", "**Bulk referral (workload 3)**: N referrals as fast as the API accepts them vs N bare "
              "`start_workflow` calls", ""]
    rows = [[c, _f(b["baseline_starts_per_s"]), _f(b["itinera_referrals_per_s"]), _x(b["ratio"]),
             _f(b.get("itinera_async_referrals_per_s")), _x(b.get("ratio_async")),
             f"{_f(b['baseline_start']['p50_ms'])} / {_f(b['baseline_start']['p99_ms'])}",
             f"{_f(b['itinera_refer']['p50_ms'])} / {_f(b['itinera_refer']['p99_ms'])}",
             f"{_f(b.get('itinera_async_refer', {}).get('p50_ms'))} / "
             f"{_f(b.get('itinera_async_refer', {}).get('p99_ms'))}", _f(b.get("async_all_recorded_after_s"))]
            for c, b in cmp_["bulk_referral"].items()]
    lines += _table(["concurrency", "start_workflow /s", "POST /api/v1/cases /s (201)", "ratio",
                     "with Prefer: respond-async /s (202)", "ratio", "start p50 / p99 ms",
                     "referral 201 p50 / p99 ms", "referral 202 p50 / p99 ms",
                     "202s all recorded after s"], rows)

    rm = results["workloads"]["read_model"]
    seeds = rm["seeding"]
    lines += ["", "**Read model at scale (workload 4)**: GET /api/v1/cases (filters, text search, keyset page 6) and "
              "GET /api/v1/tasks (four inboxes), through HTTP, round robin over the queries.", ""]
    if seeds:
        total_cases = sum(s["cases"] for s in seeds)
        total_s = sum(s["seconds"] for s in seeds)
        lines += [f"Seeded through `store.projection.record_case_events`, the recording activity's own function "
                  f"(states from `domain.case.decide`/`fold`, see bench/seed.py): {total_cases:,} cases, "
                  f"{sum(s['events'] for s in seeds):,} events in {total_s:.0f} s ({total_cases / total_s:,.0f} cases/s, "
                  f"{seeds[-1]['processes']} processes, {seeds[-1]['cases_per_transaction']} cases per transaction, "
                  f"write path: {seeds[-1]['write_path']}); then VACUUM ANALYZE "
                  f"({sum(s['vacuum_analyze_s'] for s in seeds):.0f} s).", ""]
    rows = []
    for level, data in rm["levels"].items():
        for c, v in data["concurrency"].items():
            rows.append([_f(data["cases"]), c, _f(v["requests_per_s"]), _f(v["p50_ms"]), _f(v["p99_ms"])])
    lines += _table(["cases in read model", "concurrency", "requests/s", "p50 ms", "p99 ms"], rows)
    if cmp_["read_model_p99_ratio"]:
        lines += ["", "p99 at the large read model / p99 at the small one: " + ", ".join(
            f"concurrency {c}: {_x(v['ratio'])}" for c, v in cmp_["read_model_p99_ratio"].items())]
    if rm["levels"]:
        first = next(iter(next(iter(rm["levels"].values()))["concurrency"]))
        queries = list(next(iter(rm["levels"].values()))["concurrency"][first]["per_query"])
        rows = []
        for q in queries:
            row = [q.removeprefix("query:")]
            for level, data in rm["levels"].items():
                v = data["concurrency"][first]["per_query"].get(q, {})
                row.append(f"{_f(v.get('p50_ms'))} / {_f(v.get('p99_ms'))}")
            rows.append(row)
        reports = list(next(iter(rm["levels"].values())).get("reports", {}).get("per_query", {}))
        for q in reports:  # their own phase at concurrency 1 (not in the target's p99)
            row = [q.removeprefix("query:") + " (own phase, c=1)"]
            for level, data in rm["levels"].items():
                v = data.get("reports", {}).get("per_query", {}).get(q, {})
                row.append(f"{_f(v.get('p50_ms'))} / {_f(v.get('p99_ms'))}")
            rows.append(row)
        lines += ["", f"Per query at concurrency {first} (p50 / p99 ms):", ""]
        lines += _table(["query"] + [f"{int(lv):,} cases" for lv in rm["levels"]], rows)

    lines += recording_price.render(results.get("recording_price", {}))
    ryw = results["read_your_writes"]
    lines += ["", "**Temporal history events per case**", ""]
    lines += _table(["case", "history events", "Updates"], [
        ["baseline (start + 7 updates)", _f(h.get("baseline", {}).get("events_per_case")), len(STAGES)],
        [f"Itinera, {cfg['members_per_case']} person", _f(h.get("itinera", {}).get("events_per_case")),
         _f(results["workloads"]["itinera_http"].get(str(min(int(k) for k in results["workloads"]["itinera_http"])),
                                                     {}).get("updates_per_case")) if results["workloads"]["itinera_http"] else "–"],
        ["Itinera, family of 7", _f(h.get("itinera_family_of_7", {}).get("events_per_case")),
         _f(h.get("itinera_family_of_7", {}).get("updates_per_case"))],
    ])
    lines += ["", f"**Read-your-writes**: {ryw.get('checks', 0):,} completions checked with an immediate "
              f"GET /api/v1/cases/{{id}}; {ryw.get('misses')} misses; max lag {_f(ryw.get('max_lag_ms'))} ms."]
    if results["errors"]:
        lines += ["", f"**{results['errors']} operations failed** (see error_samples in the JSON)."]
    return "\n".join(lines) + "\n"


def update_readme(path: Path, markdown: str) -> None:
    """Replace the block between the result markers of ``path`` with ``markdown``."""
    text = path.read_text() if path.exists() else ""
    block = f"{README_START}\n{markdown}{README_END}"
    if README_START in text and README_END in text:
        text = re.sub(re.escape(README_START) + r".*?" + re.escape(README_END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
