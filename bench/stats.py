"""Latency samples and their percentiles (linear interpolation, like numpy's default)."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values_ms: list[float]) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {"n": len(values_ms), "p50_ms": r(percentile(values_ms, 50)), "p99_ms": r(percentile(values_ms, 99)),
            "mean_ms": r(sum(values_ms) / len(values_ms)) if values_ms else None,
            "max_ms": r(max(values_ms)) if values_ms else None}


class Latencies:
    """Named latency samples in milliseconds."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, seconds: float) -> None:
        self.samples[name].append(seconds * 1000.0)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.add(name, time.perf_counter() - started)

    def merged(self, prefix: str) -> list[float]:
        return [v for k, vs in self.samples.items() if k.startswith(prefix) for v in vs]

    def as_dict(self) -> dict[str, Any]:
        return {name: summary(values) for name, values in sorted(self.samples.items())}


def ratio(value: float | None, anchor: float | None) -> float | None:
    if value is None or anchor in (None, 0):
        return None
    return round(value / anchor, 3)
