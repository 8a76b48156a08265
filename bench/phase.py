"""What one phase measured (a workload at one concurrency), and the read-your-writes tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.procmon import PhaseUsage
from bench.stats import Latencies


@dataclass
class Phase:
    """One workload at one concurrency."""

    workload: str
    concurrency: int
    total: int
    wall_s: float = 0.0
    usage: PhaseUsage | None = None
    latencies: Latencies = field(default_factory=Latencies)
    errors: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # workflow ids of the cases it ran
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.total - len(self.errors)

    @property
    def rate(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0

    def as_dict(self, unit: str = "cases") -> dict[str, Any]:
        usage = self.usage.as_dict() if self.usage else {}
        cpu = usage.get("cpu_s", {})
        return {
            "workload": self.workload, "concurrency": self.concurrency, unit: self.total,
            "completed": self.done, "errors": len(self.errors), "error_samples": self.errors[:5],
            "wall_s": round(self.wall_s, 3), f"{unit}_per_s": round(self.rate, 3),
            "latency": self.latencies.as_dict(),
            "cpu_s": cpu,
            f"cpu_s_per_{unit[:-1]}": {k: round(v / self.done, 5) for k, v in cpu.items()} if self.done else {},
            "peak_rss_mb": usage.get("peak_rss_mb", {}),
            **self.extra,
        }


@dataclass
class ReadYourWrites:
    checks: int = 0
    misses: int = 0
    lags_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"checks": self.checks, "misses": self.misses,
                "max_lag_ms": round(max(self.lags_ms), 3) if self.lags_ms else None,
                "definition": "after each task completion answers, GET /api/v1/cases/{id} at once; a miss is a read "
                              "whose version is older than the answer's or still lists the completed task as open; "
                              "lag = time from the answer until a read shows the change (0 = the first read did)"}
