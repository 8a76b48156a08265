"""CPU seconds and peak resident memory of the processes under test, per workload phase.

CPU time is read from the kernel (user + system, ``psutil.Process.cpu_times``) at the start
and end of a phase.  Resident memory is sampled every ``interval`` seconds by a thread, and
the peak of each phase is kept; the kernel's own high-water mark (``VmHWM``) is reported
for the whole run as well.  PostgreSQL is many processes (one per connection): its CPU is
the sum over the postmaster and its children alive at both ends of a phase (best effort:
a connection that opened and closed inside a phase is missed).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


# How often the memory sampler lists a tree's children again: listing them scans /proc, which
# every 100 ms cost the bench client 40% of its own CPU (bench/profiles), on the cores it measures.
CHILDREN_REFRESH_S = 2.0


@dataclass
class Watched:
    name: str
    proc: psutil.Process
    tree: bool = False  # include children (PostgreSQL backends)
    _listed: list[psutil.Process] = field(default_factory=list)
    _listed_at: float = float("-inf")

    def _children(self) -> list[psutil.Process]:
        now = time.monotonic()
        if now - self._listed_at > CHILDREN_REFRESH_S:
            self._listed, self._listed_at = self.proc.children(recursive=True), now
        return self._listed

    def cpu(self) -> dict[int, float]:
        procs = [self.proc] + (self.proc.children(recursive=True) if self.tree else [])
        out: dict[int, float] = {}
        for p in procs:
            try:
                out[p.pid] = _cpu(p)
            except psutil.Error:
                pass
        return out

    def rss(self) -> int:
        procs = [self.proc] + (self._children() if self.tree else [])
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def hwm(self) -> int | None:
        """The kernel's peak resident set size of the (main) process, bytes."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None


@dataclass
class PhaseUsage:
    seconds: float
    cpu_seconds: dict[str, float]
    peak_rss_mb: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"wall_s": round(self.seconds, 3),
                "cpu_s": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
                "peak_rss_mb": {k: round(v, 1) for k, v in self.peak_rss_mb.items()}}


@dataclass
class _Phase:
    started: float
    cpu: dict[str, dict[int, float]]
    peak: dict[str, int] = field(default_factory=dict)


class ProcessMonitor:
    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.watched: dict[str, Watched] = {}
        self._phase: _Phase | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int, *, tree: bool = False) -> None:
        with self._lock:
            self.watched[name] = Watched(name, psutil.Process(pid), tree)

    def unwatch(self, name: str) -> None:
        with self._lock:
            self.watched.pop(name, None)

    def _sample(self) -> None:
        with self._lock:
            phase = self._phase
            if phase is None:
                return
            for name, w in self.watched.items():
                rss = w.rss()
                if rss > phase.peak.get(name, 0):
                    phase.peak[name] = rss

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sample()
            except Exception:  # a process went away between listing and reading
                pass

    def begin(self) -> None:
        with self._lock:
            self._phase = _Phase(started=time.perf_counter(), cpu={n: w.cpu() for n, w in self.watched.items()})
        self._sample()

    def end(self) -> PhaseUsage:
        self._sample()
        with self._lock:
            phase, self._phase = self._phase, None
            assert phase is not None, "end() without begin()"
            cpu: dict[str, float] = {}
            for name, w in self.watched.items():
                before, after = phase.cpu.get(name, {}), w.cpu()
                cpu[name] = sum(v - before.get(pid, 0.0) for pid, v in after.items())
            peak = {n: v / 2**20 for n, v in phase.peak.items()}
        return PhaseUsage(seconds=time.perf_counter() - phase.started, cpu_seconds=cpu, peak_rss_mb=peak)

    def high_water_marks_mb(self) -> dict[str, float]:
        with self._lock:
            return {n: round(h / 2**20, 1) for n, w in self.watched.items() if (h := w.hwm()) is not None}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
