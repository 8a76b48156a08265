"""Schemathesis against the running API, as each role (the test accounts): the machinery behind
tests/test_api_fuzzing.py.

A *campaign* sends every operation of the app's own OpenAPI document, as every identity
that may call it, the cases Schemathesis generates (its coverage phase: boundary values,
missing and mistyped fields, unknown properties, wrong methods and content types; and
Hypothesis fuzzing, valid and invalid), over HTTP to the real server.  It never stops at
the first failure: every response is checked and every finding recorded, with the
operation, the identity, the request (as curl) and what came back, so one run lists
every defect.  Three properties, checked on every response:

* ``no_server_error``: no 5xx, and an answer within ``REQUEST_TIMEOUT`` seconds;
* ``conforms``: the status code is documented for the operation, and the content type,
  headers and body match what is documented for it;
* ``refusal_changes_nothing``: a non-2xx answer changed no data.  The database is
  fingerprinted (row count and a sum of row hashes of every application table, logs
  excepted: see ``LOGS``) before and after each refused request and the two compared.

Generation is derandomized and bounded (``max_examples`` per operation and identity): the
same requests every run.  The campaign runs in a process of its own (``run_campaign``
starts ``python -m tests.support.fuzz_support``): the API and the worker live on the test
session's event loop, which must keep running while Schemathesis' synchronous client
waits for answers, and generating cases in the same interpreter would take the GIL from
the server it is measuring.

It shares the session's stack with the rest of the suite, so it leaves no trace others
could trip on: it connects from 127.0.0.2 (its failed logins count against that client in
the login throttle, not against 127.0.0.1), its referral ids are made unique per run (the
documented examples are the demo data's ids), and operations that end things (withdraw,
revoke, logout) run last.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

NO_SERVER_ERROR = "no_server_error"
CONFORMS = "conforms"
REFUSAL_CHANGES_NOTHING = "refusal_changes_nothing"
PROPERTIES = (NO_SERVER_ERROR, CONFORMS, REFUSAL_CHANGES_NOTHING)

# Schemathesis checks behind each property (each run on its own, so a finding names its check).
CHECKS: dict[str, list[Callable[..., Any]]] = {
    NO_SERVER_ERROR: [not_a_server_error],
    CONFORMS: [status_code_conformance, content_type_conformance, response_headers_conformance,
               response_schema_conformance],
}

REQUEST_TIMEOUT = 20.0  # seconds; a request still unanswered then is a finding (a hang), not a wait

# Tables that record refused requests by design: left out of the fingerprint.
LOGS = {
    "audit_log": "every request is a row, refused ones included (README: 'allowed or denied')",
    "login_failures": "the login throttle counts refused logins: that is its job",
    "schema_migrations": "the migrations runner's bookkeeping, not application data",
}
# Rows of a table that record refusals by design; only the others are fingerprinted.
ROW_FILTERS = {
    # "what integrations sent to your offices, rejected ones included": a rejection is kept.
    # Accepted at intake (202): the inbox row is the change; refused at intake: kept by design.
    "integration_messages": "accepted",
}
# Columns that change on a refusal by design.
IGNORED_COLUMNS = {
    "integration_keys": ["last_used_at"],  # set when a key authenticates, whatever its message
    # The inbox delivers an accepted message in the background, whatever request comes next.
    "integration_messages": ["status", "attempts", "next_attempt_at", "lease_until", "last_failure", "held_reason",
                             "held_until", "case_version_seen", "resolved_at", "result", "error"],
}

# A referral id as the API accepts it (domain/model.py): the fuzzer's own are made unique.
REFERRAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{2,63}")

BEARER_ROLES = ("ayse", "selin", "emre", "fatma", "admin")  # IST caseworker, medical, movement, IST supervisor, admin
ANONYMOUS = "anonymous"
INTEGRATION = "integration key"


# -- findings and numbers ----------------------------------------------------------------

@dataclass
class Example:
    identity: str
    request: str  # curl
    status: int | None
    response: str
    generated: str  # phase / mode / what Schemathesis meant to test


@dataclass
class Finding:
    operation: str
    prop: str
    check: str
    summary: str  # what went wrong, without the varying details
    count: int = 0
    identities: list[str] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    def describe(self, max_examples: int = 2) -> str:
        lines = [f"{self.operation} [{self.prop}/{self.check}] {self.summary}  "
                 f"({self.count}x, as {', '.join(sorted(self.identities))})"]
        for ex in self.examples[:max_examples]:
            lines.append(f"    as {ex.identity} ({ex.generated}): {ex.request}")
            lines.append(f"      -> {ex.status}: {ex.response}")
        return "\n".join(lines)


@dataclass
class Stats:
    requests: int = 0
    unsendable: int = 0  # cases the HTTP client refused to send (e.g. a header with a line break)
    statuses: Counter = field(default_factory=Counter)  # "200", "422", "no answer"
    by_identity: Counter = field(default_factory=Counter)
    generation_errors: list[str] = field(default_factory=list)


@dataclass
class Results:
    operations: list[str]
    stats: dict[str, Stats]
    findings: list[Finding]
    seconds: float
    fingerprinted_tables: list[str]
    created_cases: list[str]
    created_keys: list[str]
    timings: dict[str, float]
    changes_seen_after_2xx: int  # POSTs answered 2xx whose changes the fingerprint saw: it works

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stats.values())

    def statuses(self) -> Counter:
        return sum((s.statuses for s in self.stats.values()), Counter())

    def for_property(self, operation: str, prop: str) -> list[Finding]:
        return [f for f in self.findings if (f.operation, f.prop) == (operation, prop)]

    def summary(self) -> str:
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        lines = [f"schemathesis {schemathesis.__version__}: {len(self.operations)} operations, "
                 f"{self.requests} requests in {self.seconds:.1f} s ({timings}), "
                 f"{len(self.findings)} distinct findings; fingerprinted: {', '.join(self.fingerprinted_tables)} "
                 f"(saw the changes of {self.changes_seen_after_2xx} POSTs answered 2xx)"]
        for op in self.operations:
            s = self.stats[op]
            statuses = ", ".join(f"{k}:{v}" for k, v in sorted(s.statuses.items()))
            lines.append(f"  {op}: {s.requests} requests ({statuses})"
                         + (f", {s.unsendable} unsendable" if s.unsendable else ""))
        return "\n".join(lines)

    def report(self) -> str:
        return "\n\n".join(f.describe() for f in sorted(self.findings, key=lambda f: (f.operation, f.prop, f.check)))

    def to_json(self) -> dict[str, Any]:
        # Not asdict(): it rebuilds a Counter from its items, counting the pairs.
        return {**{k: getattr(self, k) for k in ("operations", "seconds", "fingerprinted_tables", "created_cases",
                                                 "created_keys", "timings", "changes_seen_after_2xx")},
                "stats": {op: {"requests": s.requests, "unsendable": s.unsendable, "statuses": dict(s.statuses),
                               "by_identity": dict(s.by_identity), "generation_errors": s.generation_errors}
                          for op, s in self.stats.items()},
                "findings": [asdict(f) for f in self.findings]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        stats = {op: Stats(requests=s["requests"], unsendable=s["unsendable"], statuses=Counter(s["statuses"]),
                           by_identity=Counter(s["by_identity"]), generation_errors=s["generation_errors"])
                 for op, s in data["stats"].items()}
        findings = [Finding(**{**f, "examples": [Example(**e) for e in f["examples"]]}) for f in data["findings"]]
        return cls(**{**data, "stats": stats, "findings": findings})


# -- the database fingerprint ------------------------------------------------------------

class Fingerprint:
    """Row count and sum of row hashes per application table: equal fingerprints, same data
    (up to hash collisions)."""

    def __init__(self, tables: list[str]):
        self.tables = tables
        parts = []
        for t in tables:
            drop = IGNORED_COLUMNS.get(t, [])
            row = f"to_jsonb(r) - {_text_array(drop)}" if drop else "r"
            where = f" WHERE {ROW_FILTERS[t]}" if t in ROW_FILTERS else ""
            parts.append(f"SELECT {_literal(t)} AS t, count(*) AS n, coalesce(sum(hashtext(({row})::text)), 0) AS h "
                         f"FROM {_ident(t)} r{where}")
        self.sql = " UNION ALL ".join(parts)

    @classmethod
    async def discover(cls, conn: asyncpg.Connection) -> Fingerprint:
        names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                 "ORDER BY tablename")
        return cls([r["tablename"] for r in names if r["tablename"] not in LOGS])

    async def take(self, conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
        return {r["t"]: (r["n"], r["h"]) for r in await conn.fetch(self.sql)}


def fingerprint_diff(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> str:
    return "; ".join(f"{t}: {before[t][0]} -> {after[t][0]} rows"
                     + (" (rows changed)" if before[t][0] == after[t][0] else "")
                     for t in before if before[t] != after.get(t))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_literal(v) for v in values) + "]::text[]"


# -- the campaign ------------------------------------------------------------------------

class _SourceAddress(HTTPAdapter):
    """Connects from a given loopback address: the login throttle counts failed logins per
    client address, and the fuzzer's must not lock the rest of the suite (127.0.0.1) out."""

    def __init__(self, address: str):
        self._address = address
        super().__init__(pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Probes:
    """Objects that exist, so generated requests reach past the 404: path parameters are
    drawn from these for three cases in four (the fourth keeps its generated value)."""

    case_ids: list[str]
    members: list[tuple[str, str]]  # (case_id, member_id)
    key_ids: list[str]
    api_key: str  # an approved integration key's secret, for POST /integrations/messages


@dataclass
class Campaign:
    base_url: str
    database_url: str
    probes: Probes
    password: str
    max_examples: int = 10  # fuzzing examples per operation for its first identity (after its coverage phase)
    max_examples_other_roles: int = 5  # valid examples per operation for each other identity
    source_address: str = "127.0.0.2"
    trace: str | None = None  # a file to write every request and its status to (ITINERA_FUZZ_TRACE)

    # The first identity runs the coverage phase and fuzzes valid and invalid data; every
    # other identity that may call the operation fuzzes it with valid data.
    def identities_for(self, operation: Any) -> list[str]:
        if operation.label == "POST /api/v1/integrations/messages":
            return [INTEGRATION, ANONYMOUS]
        if not _needs_bearer(operation):
            return [ANONYMOUS]
        if operation.path.startswith("/api/v1/admin/"):
            return ["admin"] + [r for r in BEARER_ROLES if r != "admin"]
        return ["fatma"] + [r for r in BEARER_ROLES if r != "fatma"]

    def run(self) -> Results:
        started, cpu = time.monotonic(), _cpu_seconds()
        self._timings: Counter = Counter()
        self._created_cases: list[str] = []
        self._created_keys: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._conn = self._await(asyncpg.connect(self.database_url))
        self._session = requests.Session()
        self._session.mount("http://", _SourceAddress(self.source_address))
        self._trace = open(self.trace, "w", encoding="utf-8", errors="backslashreplace") if self.trace else None
        try:
            schema = schemathesis.openapi.from_url(f"{self.base_url}/openapi.json")
            schema.config.update(base_url=self.base_url)
            operations = sorted((r.ok() for r in schema.get_all_operations()), key=_order)
            self._fingerprint = self._await(Fingerprint.discover(self._conn))
            self._last: dict[str, tuple[int, int]] | None = None
            self._tokens: dict[str, str] = {u: self._login(u) for u in BEARER_ROLES}
            self._counter = 0
            self._run_tag = uuid.uuid4().hex[:6].upper()
            self._after_2xx: dict[str, tuple[int, int]] | None = None
            self._changes_seen_after_2xx = 0
            stats: dict[str, Stats] = {}
            findings: dict[tuple[str, str, str, str], Finding] = {}
            self._task_ids: list[str] = []
            self._key_ids: list[str] = []
            for operation in operations:
                stat = stats[operation.label] = Stats()
                for position, identity in enumerate(self.identities_for(operation)):
                    if {"task_id", "key_id"} & {p.name for p in operation.path_parameters}:
                        self._refresh_probes()
                    self._run_one(schema, operation, identity, coverage=position == 0, stat=stat,
                                  findings=findings)
        finally:
            if self._trace is not None:
                self._trace.close()
            self._session.close()
            self._await(self._conn.close())
            self._loop.close()
        seconds = time.monotonic() - started
        self._timings["other (generation, Hypothesis)"] = seconds - sum(self._timings.values())
        self._timings["fuzzer CPU"] = _cpu_seconds() - cpu
        return Results(operations=[op.label for op in operations], stats=stats, findings=list(findings.values()),
                       seconds=seconds, fingerprinted_tables=self._fingerprint.tables,
                       created_cases=self._created_cases, created_keys=self._created_keys,
                       timings=dict(self._timings), changes_seen_after_2xx=self._changes_seen_after_2xx)

    # -- one operation as one identity

    def _run_one(self, schema: Any, operation: Any, identity: str, *, coverage: bool, stat: Stats,
                 findings: dict[tuple[str, str, str, str], Finding]) -> None:
        def record(prop: str, check: str, summary: str, status: int | None, response_text: str, case: Any) -> None:
            finding = findings.setdefault((operation.label, prop, check, summary),
                                          Finding(operation.label, prop, check, summary))
            finding.count += 1
            if identity not in finding.identities:
                finding.identities.append(identity)
            if len(finding.examples) < 3:
                finding.examples.append(Example(identity, _curl(case, self.base_url), status,
                                                _excerpt(response_text), _generated(case)))

        wrong_methods = 0

        def test(case: Any) -> None:
            nonlocal wrong_methods
            if _generated(case).startswith("coverage/negative: Unspecified HTTP method"):
                # One router answers every method an operation does not have: two per operation do.
                wrong_methods += 1
                if wrong_methods > 2:
                    return
            self._counter += 1
            self._prepare(case, identity, self._counter)
            t0 = time.perf_counter()
            before = self._last if self._last is not None else self._take()
            if self._after_2xx is not None:
                # The detector's own check: the changes 2xx commands made are seen.
                self._changes_seen_after_2xx += before != self._after_2xx
                self._after_2xx = None
            t1 = time.perf_counter()
            self._timings["fingerprint"] += t1 - t0
            try:
                response = case.call(base_url=self.base_url, session=self._session, timeout=REQUEST_TIMEOUT)
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._timings["http"] += time.perf_counter() - t1
                stat.requests += 1
                stat.by_identity[identity] += 1
                stat.statuses["no answer"] += 1
                record(NO_SERVER_ERROR, "answers", f"no answer within {REQUEST_TIMEOUT:.0f} s ({type(exc).__name__})",
                       None, str(exc), case)
                self._last = None
                return
            except Exception:  # noqa: BLE001 - a request the client cannot send tests nothing on the server
                stat.unsendable += 1
                return
            t2 = time.perf_counter()
            self._timings["http"] += t2 - t1
            if self._trace is not None:
                self._trace.write(f"{identity}\t{response.status_code}\t{_curl(case, self.base_url, limit=10**6)}\n")
            stat.requests += 1
            stat.by_identity[identity] += 1
            stat.statuses[str(response.status_code)] += 1
            for prop, checks in CHECKS.items():
                for check in checks:
                    try:
                        case.validate_response(response, checks=[check])
                    except FailureGroup as group:
                        for failure in group.exceptions:
                            record(prop, check.__name__, _failure_summary(failure, response.status_code),
                                   response.status_code, response.text, case)
                    except Failure as failure:
                        record(prop, check.__name__, _failure_summary(failure, response.status_code),
                               response.status_code, response.text, case)
            t3 = time.perf_counter()
            self._timings["checks"] += t3 - t2
            if 200 <= response.status_code < 300:
                self._last = None  # a 2xx may change data, now or as its workflow moves on
                if case.method.upper() == "POST":
                    self._after_2xx = before
                self._note_created(operation.label, response)
                self._wait_for_import(operation.label, response)
            else:
                after = self._take()
                if after != before:
                    record(REFUSAL_CHANGES_NOTHING, "fingerprint",
                           f"a {response.status_code} answer changed {', '.join(_changed_tables(before, after))}",
                           response.status_code, f"{response.text[:200]} || {fingerprint_diff(before, after)}", case)
                self._last = after
            self._timings["fingerprint"] += time.perf_counter() - t3

        # For the first identity, Schemathesis' coverage phase, then valid and invalid data;
        # for the others valid data only: what differs for them is what their role may do, and
        # invalid data is refused alike before any role is looked at.
        settings = hypothesis.settings(
            max_examples=self.max_examples if coverage else self.max_examples_other_roles, derandomize=True,
            database=None, deadline=None, phases=[Phase.explicit, Phase.generate] if coverage else [Phase.generate],
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
        try:
            if coverage:
                hypothesis_test = create_test(operation=operation, test_func=test, config=HypothesisTestConfig(
                    project=schema.config, settings=settings,
                    modes=[HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]))
            else:
                hypothesis_test = settings(hypothesis.given(
                    case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))(test))
            hypothesis_test()
        except Exception as exc:  # noqa: BLE001 - generation problems are reported, and fail the summary test
            stat.generation_errors.append(f"as {identity}: {type(exc).__name__}: {str(exc)[:300]}")

    def _prepare(self, case: Any, identity: str, counter: int) -> None:
        """The identity's credentials, and, mostly, objects that exist in the path."""
        headers = case.headers if case.headers is not None else {}
        if identity in self._tokens:
            auth = headers.get("Authorization")
            # Generated "Bearer <junk>" becomes the real token; a missing or malformed header is
            # the case's point (401 expected) and stays.
            if isinstance(auth, str) and auth.startswith("Bearer "):
                headers["Authorization"] = f"Bearer {self._tokens[identity]}"
        elif identity == INTEGRATION:
            name = next((h for h in headers if h.lower() == "x-api-key"), None)
            if name is not None and isinstance(headers[name], str):
                del headers[name]
                headers["X-API-Key"] = self.probes.api_key
        case.headers = headers
        if case.operation.label == "POST /api/v1/cases" and isinstance(case.body, dict):
            # A referral id is the case's identity for good (same id, same case): the documented
            # examples are the demo data's ids, and the suite's other tests refer those later.
            ref, mine = case.body.get("external_referral_id"), f"FZ{self._run_tag}-"
            if isinstance(ref, str) and REFERRAL_ID.fullmatch(ref) and not ref.startswith(mine):  # cases share bodies
                case.body["external_referral_id"] = f"{mine}{ref}"[:64]
        params = case.path_parameters
        if not params or counter % 4 == 0:
            return
        components = getattr(case.meta, "components", None) or {}
        path = next((info for location, info in components.items()
                     if str(getattr(location, "value", location)) == "path"), None)
        if path is not None and path.mode == GenerationMode.NEGATIVE:
            return  # the generated path is the point of this case
        pick = counter // 4
        if "member_id" in params and self.probes.members:
            params["case_id"], params["member_id"] = self.probes.members[pick % len(self.probes.members)]
        elif "case_id" in params and self.probes.case_ids:
            params["case_id"] = self.probes.case_ids[pick % len(self.probes.case_ids)]
        if "task_id" in params and self._task_ids:
            params["task_id"] = self._task_ids[pick % len(self._task_ids)]
        if "key_id" in params and self._key_ids:
            params["key_id"] = self._key_ids[pick % len(self._key_ids)]

    def _refresh_probes(self) -> None:
        """The probe cases' tasks as they are now (open ones first), and the keys."""
        tasks = self._await(self._conn.fetch(
            "SELECT task_id FROM tasks WHERE case_id = ANY($1::text[]) "
            "ORDER BY status = 'open' DESC, opened_at DESC, task_id LIMIT 8", self.probes.case_ids))
        keys = self._await(self._conn.fetch(
            "SELECT key_id FROM integration_keys WHERE key_id = ANY($1::text[]) "
            "ORDER BY revoked_at IS NULL DESC, key_id = ANY($2::text[]) DESC, created_at DESC, key_id LIMIT 4",
            self.probes.key_ids + self._created_keys, self.probes.key_ids))
        self._task_ids = [r["task_id"] for r in tasks]
        self._key_ids = [r["key_id"] for r in keys]

    def _note_created(self, label: str, response: Any) -> None:
        try:
            body = response.json()
        except ValueError:
            return
        if label == "POST /api/v1/cases" and isinstance(body, dict) and "case_id" in body:
            self._created_cases.append(body["case_id"])
        elif label.startswith("POST /api/v1/admin/integration-keys") and isinstance(body, dict) and "key_id" in body:
            self._created_keys.append(body["key_id"])

    def _wait_for_import(self, label: str, response: Any) -> None:
        """A bulk import goes on in the background after its 202 (its job creates cases): let it
        finish before the next request, so its changes are not taken for that request's."""
        if not label.startswith("POST /api/v1/imports") or response.status_code != 202:
            return
        import_id = response.json().get("import_id")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = self._await(self._conn.fetchval("SELECT status FROM referral_imports WHERE import_id = $1",
                                                     import_id))
            if status == "completed":
                return
            self._await(asyncio.sleep(0.1))

    def _login(self, username: str) -> str:
        r = self._session.post(f"{self.base_url}/api/v1/auth/token",
                               data={"username": username, "password": self.password}, timeout=REQUEST_TIMEOUT)
        r.raise_for_status()
        return r.json()["access_token"]

    def _take(self) -> dict[str, tuple[int, int]]:
        return self._await(self._fingerprint.take(self._conn))

    def _await(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self._loop.run_until_complete(coro)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_campaign(campaign: Campaign, timeout: float = 600) -> Results:
    """Runs the campaign in a process of its own; its results.  The CPU the test process
    (the API and the worker) spent meanwhile is added to the timings."""
    cpu = _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="itinera-fuzz-") as folder:
        config, output = Path(folder) / "campaign.json", Path(folder) / "results.json"
        config.write_text(json.dumps(asdict(campaign)))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.fuzz_support", str(config), str(output),
            cwd=Path(__file__).resolve().parents[2], stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0 or not output.exists():
            raise RuntimeError(f"the fuzzing process failed ({process.returncode}):\n"
                               f"{out.decode(errors='replace')[-4000:]}")
        results = Results.from_json(json.loads(output.read_text()))
        results.timings["API and worker CPU"] = _cpu_seconds() - cpu
        return results


def _needs_bearer(operation: Any) -> bool:
    security = operation.definition.raw.get("security")
    return bool(security) and any("HTTPBearer" in s for s in security)


def _order(operation: Any) -> tuple[int, str]:
    """Operations that end things last: a withdrawn case or a revoked key refuses every
    later command, and a logout ends the identity's token (its later logouts test that a
    revoked token is refused)."""
    label = operation.label
    if label == "POST /api/v1/auth/logout":
        return 3, label
    if any(label.endswith(s) for s in ("/withdraw", "/consent-withdrawal", "/revoke", "/rotate")):
        return 2, label
    return (0 if operation.method.upper() == "GET" else 1), label


def _changed_tables(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


def _failure_summary(failure: Failure, status: int) -> str:
    """What went wrong, the same for every instance of one defect: the check's title and the
    status, and for a body that does not match, the first line of where it differs."""
    if type(failure).__name__ == "JsonSchemaError" and failure.message:
        return f"{failure.title} ({status}): {failure.message.splitlines()[0][:160]}"
    return f"{failure.title} ({status})"


def _generated(case: Any) -> str:
    meta = case.meta
    if meta is None:
        return "?"
    description = getattr(meta.phase.data, "description", None) or ""
    return f"{meta.phase.name.value}/{meta.generation.mode.value}: {description[:120]}".replace("\n", " ")


def _curl(case: Any, base_url: str, limit: int = 1200) -> str:
    try:
        curl = case.as_curl_command(base_url=base_url)
    except Exception as exc:  # noqa: BLE001
        curl = f"<no curl: {exc}> {case.method} {case.formatted_path} {json.dumps(case.query, default=str)}"
    if len(curl) <= limit:
        return curl
    return f"{curl[:limit // 2]} ...[{len(curl) - limit} characters]... {curl[-limit // 2:]}"


def _excerpt(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def main(config: str, output: str) -> None:
    data = json.loads(Path(config).read_text())
    data["probes"] = Probes(**{**data["probes"], "members": [tuple(m) for m in data["probes"]["members"]]})
    results = Campaign(**data).run()
    Path(output).write_text(json.dumps(results.to_json()))


if __name__ == "__main__":
    main(*sys.argv[1:])
