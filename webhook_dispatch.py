"""Outbound webhooks: the dispatcher that delivers the outbox (``store/webhooks.py``).

Runs in every worker process (``worker.run_worker``); several dispatchers share the work
(outbox rows and deliveries are taken with ``FOR UPDATE SKIP LOCKED`` and leased).  Each
round: fan new outbox rows out to the matching subscriptions, then start the due deliveries
(at most ``concurrency`` under way at once) without waiting for them: a slow receiver holds
its own deliveries only, never the next round's fan-out nor another subscription's POSTs.

**Signature** (documented in the README, "Outbound webhooks"): every request carries

    Itinera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

(a second ``v1=`` while a rotated-out secret is still in its grace period), and
``Itinera-Event-Id``, ``Itinera-Event-Type``, ``Itinera-Delivery-Id``,
``Itinera-Delivery-Attempt``.  A receiver recomputes the HMAC over the raw body with its
secret, compares in constant time with any ``v1``, and refuses a ``t`` older than 5 minutes
(``verify`` below is the reference).  The same event may arrive more than once (a lost
answer): deduplicate on ``Itinera-Event-Id``.

**Retries**: a 2xx answer delivers; anything else (another status, a timeout, no
connection, no complete answer within ``timeout`` seconds) is recorded as an attempt and tried
again after ``base_delay * 2**(n-1)`` seconds (at most ``max_delay``), up to ``max_attempts``;
then the delivery is ``failed``.  Redirects are not followed.  ``timeout`` bounds the whole
attempt (the address check, connecting, sending, the status and the answer's first
``ANSWER_READ_LIMIT`` bytes), not each read: a receiver that trickles its answer fails its
attempt when the time is up.  No more of the answer's body is read (only the status matters).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from typing import Any

import asyncpg
import httpx

from observability.logs import get_logger
from store import webhooks as store
from stored_secrets import SecretSealer
from webhook_targets import Network, TargetRefused, check_target

log = get_logger("itinera.webhooks")

SIGNATURE_HEADER = "Itinera-Signature"
TOLERANCE_SECONDS = 300
# The most of an answer's body a delivery reads: the status decides, the body is never kept whole.
ANSWER_READ_LIMIT = 4096


async def _read_at_most(answer: httpx.Response, limit: int) -> int:
    """Read the answer's body until it ends or ``limit`` bytes came; how many came."""
    got = 0
    async with contextlib.aclosing(answer.aiter_raw()) as chunks:
        async for chunk in chunks:
            got += len(chunk)
            if got >= limit:
                break
    return got


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def verify(header: str, body: bytes, secret: str, *, tolerance: int = TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """A receiver's check: one ``v1`` is the HMAC of ``t.body`` with ``secret``, and ``t`` is recent."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v.strip()) for k, v in parts if k.strip() == "v1")


def body_for(payload: dict[str, Any], include_health_data: bool) -> dict[str, Any]:
    """What one subscription receives: health details only when it is allowed them."""
    body = {k: v for k, v in payload.items() if k != "health"}
    if "health" in payload:
        if include_health_data:
            body["data"] = {**body.get("data", {}), **payload["health"]}
        else:
            body["health_details_withheld"] = True
    return body


class _Failing:
    """Logs a dispatcher's failing rounds as warnings: the first of a run of failures, then at
    most one a minute while they last (a PostgreSQL outage is not a log flood), and once when
    a round works again."""

    def __init__(self, every: float = 60.0) -> None:
        self.every, self.count, self._logged_at = every, 0, None

    def report(self, what: str, exc: BaseException, *, trace: bool = False) -> None:
        self.count += 1
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < self.every:
            return
        self._logged_at = now
        (log.exception if trace else log.warning)(what, error=f"{type(exc).__name__}: {exc}"[:300],
                                                   failures=self.count)

    def recovered(self) -> None:
        if self.count:
            log.warning("webhook dispatch works again", failures=self.count)
        self.count, self._logged_at = 0, None


class WebhookDispatcher:
    def __init__(self, pool: asyncpg.Pool, *, sealer: SecretSealer, poll_interval: float = 1.0, batch: int = 50, timeout: float = 10.0,
                 base_delay: float = 10.0, max_delay: float = 3600.0, max_attempts: int = 12,
                 lease_seconds: float = 60.0, allowed_networks: tuple[Network, ...] = (),
                 retention_days: float = 30.0, purge_every: float = 3600.0, concurrency: int = 50):
        self._pool = pool
        # Deliveries under way at once (each bounded by ``timeout``); rounds do not wait for them.
        self.concurrency = max(1, concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._failing = _Failing()
        # The outbox's case data is emptied once settled and older than this (store.purge_settled).
        self.retention_days, self.purge_every = retention_days, purge_every
        self._purged_at = 0.0
        self._sealer = sealer  # opens the signing secrets, sealed at rest (stored_secrets.py)
        self.allowed_networks = allowed_networks  # private networks deliveries may go to (webhook_targets.py)
        self.poll_interval, self.batch, self.timeout = poll_interval, batch, timeout
        self.base_delay, self.max_delay, self.max_attempts = base_delay, max_delay, max_attempts
        self.lease_seconds = max(lease_seconds, timeout * 2)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # set by the outbox's NOTIFY, and by stop()
        self._listener: asyncpg.Connection | None = None
        self._on_notify = lambda *_: self._wake.set()

    def retry_in(self, attempt: int) -> float | None:
        if attempt >= self.max_attempts:
            return None
        return min(self.base_delay * 2 ** (attempt - 1), self.max_delay)

    async def run_once(self, http: httpx.AsyncClient) -> int:
        """Fan out, then start what is due (as many as there is room for under ``concurrency``);
        the number of deliveries started.  Does not wait for them: the next round fans out and
        starts other deliveries while a slow receiver still holds its own (each attempt ends
        within ``timeout``, well inside its lease, so no other dispatcher takes it meanwhile).
        ``settle()`` waits for those under way."""
        async with self._pool.acquire() as conn:
            while await store.fan_out(conn) > 0:
                pass
            if time.monotonic() - self._purged_at >= self.purge_every:
                await store.purge_settled(conn, self.retention_days)
                self._purged_at = time.monotonic()
            room = min(self.batch, self.concurrency - len(self._in_flight))
            due = await store.lease_due(conn, room, self.lease_seconds) if room > 0 else []
        for row in due:
            task = asyncio.create_task(self._deliver_logged(http, row), name=f"webhook-delivery-{row['delivery_id']}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(due)

    async def settle(self) -> None:
        """Wait for the deliveries under way (each ends within ``timeout`` and its recording)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _deliver_logged(self, http: httpx.AsyncClient, row: asyncpg.Record) -> None:
        """One delivery in its own task: a fault (its attempt could not be recorded: PostgreSQL
        away) is logged, and the delivery is taken again once its lease ends."""
        try:
            await self._deliver(http, row)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._failing.report("webhook delivery's attempt not recorded (PostgreSQL away?); "
                                 "it is tried again when its lease ends", exc)
        except Exception as exc:  # noqa: BLE001 - one delivery's fault is its own
            self._failing.report("webhook delivery failed unexpectedly; it is tried again when its lease ends",
                                 exc, trace=True)

    async def _deliver(self, http: httpx.AsyncClient, row: asyncpg.Record) -> None:
        attempt = row["attempts"] + 1
        if not row["active"]:
            async with self._pool.acquire() as conn:
                await store.record_attempt(conn, row["delivery_id"], attempt, status_code=None,
                                           error="subscription deactivated: not sent", duration_ms=0,
                                           delivered=False, retry_in=None)
            return
        payload = row["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        body = json.dumps(body_for(payload, row["include_health_data"]), separators=(",", ":")).encode()
        timestamp = int(time.time())
        sealed = [row["secret"], *([row["previous_secret"]] if row["previous_secret"] else [])]
        secrets = [self._sealer.open(s, row["subscription_id"]) for s in sealed]
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature_header(secrets, timestamp, body),
                   "Itinera-Event-Id": str(row["event_id"]), "Itinera-Event-Type": row["event_type"],
                   "Itinera-Delivery-Id": str(row["delivery_id"]), "Itinera-Delivery-Attempt": str(attempt),
                   "User-Agent": "Itinera-Webhooks/1"}
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        seen: int | None = None  # the status, once the answer's head came
        try:
            # One deadline for the whole exchange (httpx's own timeout is per read: a receiver
            # sending a byte now and then would hold the attempt for ever).
            async with asyncio.timeout(self.timeout):
                await check_target(row["url"], self.allowed_networks)  # again: DNS may have changed since
                async with http.stream("POST", row["url"], content=body, headers=headers,
                                       timeout=self.timeout) as answer:
                    seen = answer.status_code
                    await _read_at_most(answer, ANSWER_READ_LIMIT)  # the rest is never read
            status_code = answer.status_code
            if not 200 <= answer.status_code < 300:
                error = f"HTTP {answer.status_code}"
        except TargetRefused as exc:
            error = f"not sent: the URL {exc}"[:500]
        except (TimeoutError, httpx.TimeoutException) as exc:
            error = (f"no complete answer within {self.timeout:g} s"
                     + (f" (HTTP {seen} came, then its body stalled)" if seen is not None
                        else f" ({type(exc).__name__})" if isinstance(exc, httpx.TimeoutException) else ""))
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - one bad delivery (e.g. a URL httpx refuses) fails itself only
            error = f"not sent: {type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.perf_counter() - started) * 1000)
        delivered = error is None
        async with self._pool.acquire() as conn:
            await store.record_attempt(conn, row["delivery_id"], attempt, status_code=status_code, error=error,
                                       duration_ms=duration_ms, delivered=delivered,
                                       retry_in=None if delivered else self.retry_in(attempt))

    async def run(self) -> None:
        """Until ``stop()``: a round, then a pause unless the round was full.  The pause ends
        early when a new outbox row commits (LISTEN): a partner hears of an event within
        milliseconds, not a poll interval; the poll still catches retries that fall due and
        anything a lost notification missed.

        The notification only shortens the wait: every round polls the outbox whether or not
        LISTEN could be set up.  A listener that failed (its connection lost when PostgreSQL
        restarted, and taken back by the pool) is dropped and a new one made at the next round;
        a failing round is logged and tried again after the poll interval, for ever."""
        async with httpx.AsyncClient(follow_redirects=False,
                                     limits=httpx.Limits(max_connections=max(100, self.concurrency),
                                                         max_keepalive_connections=20)) as http:
            failing: _Failing = self._failing
            try:
                while not self._stop.is_set():
                    self._wake.clear()
                    listening = await self._listen(failing)
                    try:
                        attempted = await self.run_once(http)
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        failing.report("webhook dispatch round failed (PostgreSQL away?); the outbox waits for it",
                                       exc)
                        attempted = 0
                    except Exception as exc:  # noqa: BLE001 - the dispatcher must outlive any one round's fault
                        failing.report("webhook dispatch round failed; trying again after the poll interval", exc,
                                       trace=True)
                        attempted = 0
                    else:
                        if listening:
                            failing.recovered()
                    if attempted < self.batch:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            finally:
                try:
                    await self.settle()  # their attempts recorded, not left to lease expiry
                finally:
                    await self._unlisten()

    async def _listen(self, failing: _Failing | None = None) -> bool:
        """A connection LISTENing on the outbox's channel; whether there is one.  Never raises:
        without it the rounds still poll."""
        if self._listener is not None:
            try:
                if not self._listener.is_closed():
                    return True
            except Exception:  # noqa: BLE001 - a proxy the pool took back when its connection was lost
                pass
        await self._unlisten()
        try:
            conn = await self._pool.acquire()
        except Exception as exc:  # noqa: BLE001 - PostgreSQL away: polled again next round
            if failing is not None:
                failing.report("webhook dispatcher cannot LISTEN for the outbox; polling it meanwhile", exc)
            return False
        try:
            await conn.add_listener(store.OUTBOX_CHANNEL, self._on_notify)
        except Exception as exc:  # noqa: BLE001
            await self._drop(conn)
            if failing is not None:
                failing.report("webhook dispatcher cannot LISTEN for the outbox; polling it meanwhile", exc)
            return False
        except BaseException:
            await self._drop(conn)
            raise
        self._listener = conn
        return True

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(store.OUTBOX_CHANNEL, self._on_notify)
            await self._drop(conn)

    async def _drop(self, conn: Any) -> None:
        """Give a (possibly dead, possibly already taken back) connection to the pool; if the
        pool will not have it, close it.  Errors are the lost connection's, not ours."""
        try:
            await self._pool.release(conn)
        except Exception:  # noqa: BLE001
            with contextlib.suppress(Exception):
                conn.terminate()

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
