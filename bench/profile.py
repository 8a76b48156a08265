"""Where the CPU goes: py-spy samples of the processes under test during one phase, summarised.

``python -m bench --workloads 1,2 --concurrency 20 --profile bench/profiles`` samples the
worker, the API, the baseline worker and the bench client with py-spy (100 Hz, on-CPU
samples only: a process waiting on I/O is not sampled) for the whole of each measured phase of
workloads 1 and 2, and writes per process and phase the raw collapsed stacks
(``<phase>-c<N>-<process>.folded``, git-ignored: big) and a text summary (``.txt``,
committed): the top frames by *self* time (where the CPU is spent) and by *inclusive* time
(which of our functions the time is spent under).  ``python -m bench.profile FILE.folded``
summarises a file again.

py-spy (MIT, Ben Frederickson) was chosen because it samples a running process from outside,
with no change to the code under test and little overhead (a separate process reading the
target's memory), so the profile is of the same processes the benchmark times.  The Temporal
server (Go) and PostgreSQL are not Python: their CPU is in the benchmark's per-process table.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

RATE_HZ = 100
OUR_CODE = ("api/", "store/", "domain/", "workflows/", "activities/", "observability/", "worker.py", "settings.py",
            "payload_encryption.py", "temporal_client.py", "webhook_dispatch.py", "stored_secrets.py")
PROCESSES = ("worker", "api", "baseline_worker", "bench_client")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass
class Recording:
    """py-spy attached to some processes until ``stop``."""

    out: Path
    label: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def start(cls, out: Path, label: str, pids: dict[str, int]) -> Recording:
        exe = py_spy()
        if exe is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (it is in the bench extra)")
        out.mkdir(parents=True, exist_ok=True)
        rec = cls(out, label)
        for name, pid in pids.items():
            if name not in PROCESSES:
                continue
            raw = out / f"{label}-{name}.folded"
            rec.procs[name] = subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--format", "raw", "--nonblocking",
                 "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return rec

    def stop(self) -> list[Path]:
        written = []
        for name, proc in self.procs.items():
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                continue
            raw = self.out / f"{self.label}-{name}.folded"
            if raw.exists():
                summary = raw.with_suffix(".txt")
                summary.write_text(summarise(raw, title=f"{self.label}: {name}"))
                written.append(summary)
        return written


# Leaves where a thread waits rather than runs: py-spy's idle detection does not see every
# blocking call (an epoll wait, a thread pool's queue), so these are dropped from the totals.
IDLE_LEAVES = ("select (selectors.py)", "EpollSelector.select (selectors.py)", "_worker (concurrent/futures/thread.py)",
               "Condition.wait (threading.py)", "Event.wait (threading.py)", "wait (threading.py)",
               # under uvloop the loop's C code (its epoll wait and its socket I/O) is this frame's
               # self time: py-spy cannot tell waiting from I/O there, so it is left out too
               "Runner.run (asyncio/runners.py)")


def _frames(stack: str) -> list[str]:
    # py-spy raw lines: "thread;frame (file:line);frame (file:line) COUNT"; frames are listed
    # root first.  The line number is dropped so a function's samples add up.
    parts = stack.split(";")
    frames = []
    for part in parts:
        name, _, where = part.partition(" (")
        frames.append(f"{name} ({where.rsplit(':', 1)[0]})" if where else name)
    return frames[1:] if frames and frames[0].startswith(("process ", "thread ")) else frames


def summarise(raw: Path, *, title: str = "", top: int = 10) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames or frames[-1] in IDLE_LEAVES:
            continue
        total += n
        self_time[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"# {title or raw.stem}", "",
             f"{total} on-CPU samples at {RATE_HZ} Hz (about {total / RATE_HZ:.1f} CPU-seconds; waits in "
             "select, thread queues and uvloop's C loop left out)", ""]
    lines += ["## Top frames by self time", ""]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in self_time.most_common(top)] if total else []
    lines += ["", "## Top frames by inclusive time (ours and the libraries', event loop excluded)", ""]
    loop_frames = ("run_forever", "_run_once", "_run (asyncio", "run (asyncio", "run_until_complete", "<module>",
                   "main (", "_run_module", "run_path", "_run_code", "invoke (", "__call__ (click", "run (",
                   "asyncio_run", "runner", "_bootstrap", "serve (uvicorn", "worker_main")
    shown = [(f, n) for f, n in inclusive.most_common() if not any(m in f for m in loop_frames)]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in shown[:top * 2]] if total else []
    ours = [(f, n) for f, n in inclusive.most_common() if f.split(" (", 1)[-1].startswith(OUR_CODE)]
    lines += ["", "## Itinera's own functions by inclusive time", ""]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in ours[:top * 2]] if total else []
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    for name in argv:
        print(summarise(Path(name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
