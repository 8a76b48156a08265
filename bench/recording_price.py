"""Workload 8's numbers: what recording before answering costs, with and without Itinera.

Per Update (Itinera's 1-person case has more Updates than the baseline's seven stages, so
cases are compared per Update): throughput, latency p50/p99, CPU-seconds by process and
history events, for the bare baseline, the baselines recorded by a regular and by a local
activity (``bench.recorded_baseline``), and Itinera through HTTP.  Read it as: bare ->
regular activity is the price of the crash-consistency design; regular activity -> Itinera
is the price of Itinera's own code (domain, projection, HTTP, audit).
"""

from __future__ import annotations

from typing import Any

from bench.baseline_workflow import STAGES
from bench.stats import percentile, ratio

VARIANTS: dict[str, str] = {
    "baseline": "bare Temporal (workload 1)",
    "recorded_baseline": "recorded by a regular activity",
    "recorded_local_baseline": "recorded by a local activity",
    "caller_recorded_baseline": "recorded by the caller after the answer",
    "itinera_http": "Itinera through HTTP (workload 2)",
}
# The server-side processes each variant runs on (the client's side is the bench itself).
_ITINERA_SIDE = ("worker", "api", "temporal_server", "postgres")
_BASELINE_SIDE = ("baseline_worker", "temporal_server", "postgres")
# The caller's write is the bench client's here; in that design it would be the API's.
_CALLER_SIDE = (*_BASELINE_SIDE, "bench_client")


def _r(v: float | None, n: int = 4) -> float | None:
    return None if v is None else round(v, n)


def summarize(phases: dict[str, dict[int, Any]], conc: list[int], history: dict[str, Any]) -> dict[str, Any]:
    """{concurrency: {variant: numbers per Update}} for the concurrency levels workload 8 ran."""
    out: dict[str, Any] = {}
    for c in conc:
        if not all(c in phases.get(kind, {}) for kind in VARIANTS):
            continue
        row: dict[str, Any] = {}
        for kind in VARIANTS:
            ph = phases[kind][c]
            per_case = ph.extra.get("updates_per_case") or len(STAGES)
            updates = ph.done * per_case
            lat = ph.latencies.merged("update:")
            cpu = ph.usage.cpu_seconds if ph.usage else {}
            side = {"itinera_http": _ITINERA_SIDE, "caller_recorded_baseline": _CALLER_SIDE}.get(kind, _BASELINE_SIDE)
            server = {k: v for k, v in cpu.items() if k in side}
            row[kind] = {
                "updates_per_case": per_case, "updates_per_s": _r(ph.rate * per_case, 2),
                "update_p50_ms": _r(percentile(lat, 50), 1), "update_p99_ms": _r(percentile(lat, 99), 1),
                "cpu_s_per_update": {k: _r(v / updates, 5) for k, v in server.items()} if updates else {},
                "server_cpu_s_per_update": _r(sum(server.values()) / updates, 5) if updates else None,
                "history_events_per_case": history.get("itinera" if kind == "itinera_http" else kind,
                                                       {}).get("events_per_case"),
            }
        bare, recorded, itinera = row["baseline"], row["recorded_baseline"], row["itinera_http"]
        row["ratios"] = {
            "recorded_vs_bare_updates_per_s": ratio(recorded["updates_per_s"], bare["updates_per_s"]),
            "itinera_vs_recorded_updates_per_s": ratio(itinera["updates_per_s"], recorded["updates_per_s"]),
            "itinera_vs_recorded_p50": ratio(itinera["update_p50_ms"], recorded["update_p50_ms"]),
            "itinera_vs_recorded_cpu_per_update": ratio(itinera["server_cpu_s_per_update"],
                                                        recorded["server_cpu_s_per_update"]),
        }
        out[c] = row
    return out


def render(price: dict[str, Any]) -> list[str]:
    """The Markdown section (empty when workload 8 did not run)."""
    if not price:
        return []
    lines = ["", "**The price of recording (workload 8)**: per Update, the bare baseline, the same workflow "
                 "writing one row to PostgreSQL before it answers (by a regular activity: Itinera's design; by a "
                 "local activity: the design before wave 2; by the caller just after the answer, history first), and "
                 "Itinera through HTTP. CPU is the server side (workers, API, Temporal, PostgreSQL; the client's "
                 "excluded, except the caller-recorded variant's, whose client writes the row).", "",
             "| concurrency | variant | updates/s | update p50 / p99 ms | server CPU s per update | "
             "history events per case (updates) |",
             "|---|---|---|---|---|---|"]
    for c, row in price.items():
        for kind, label in VARIANTS.items():
            v = row[kind]
            lines.append(f"| {c} | {label} | {v['updates_per_s']} | {v['update_p50_ms']} / {v['update_p99_ms']} | "
                         f"{v['server_cpu_s_per_update']} | {v['history_events_per_case']} ({v['updates_per_case']}) |")
    lines += ["", "| concurrency | recorded / bare, updates/s | Itinera / recorded, updates/s | Itinera / recorded, "
                  "p50 | Itinera / recorded, server CPU per update |", "|---|---|---|---|---|"]
    for c, row in price.items():
        r = row["ratios"]
        lines.append(f"| {c} | {r['recorded_vs_bare_updates_per_s']}× | {r['itinera_vs_recorded_updates_per_s']}× | "
                     f"{r['itinera_vs_recorded_p50']}× | {r['itinera_vs_recorded_cpu_per_update']}× |")
    return lines
