"""The API's edge: no string PostgreSQL cannot store gets past it, whoever reads it next.

A NUL (or an unpaired surrogate, or bytes that are not UTF-8) in any string of a request
once reached a workflow, whose recording activity PostgreSQL then refused forever; the
same string in a query parameter or a path id reached a query and answered 500.  The
request models refuse such text field by field (``domain.text``), but not every string a
request carries goes through one: a case action's reason, the keys of a correction, the raw
payload the integration endpoint keeps, a login form, a query parameter, a path id.  So this
pure ASGI middleware looks at every string of every request before any route runs, and
refuses it with the standard 422 naming the field (``body.members.0.full_name``,
``query.q``, ``path.case_id``):

* path and query: NUL or an unpaired surrogate after percent-decoding;
* a form body (urlencoded or multipart): the same, in every field; a urlencoded value whose
  bytes are not UTF-8 once percent-decoded (it was stored with U+FFFD in their place);
* any other body that parses as JSON: the same, in every string and key; bytes that are
  not UTF-8 (named by the string they are in); NaN and Infinity (not JSON; jsonb refuses
  them); numbers too long to read; nesting deeper than ``MAX_JSON_DEPTH`` (a body nested
  100,000 levels deep used to blow the parser's stack).

A body that is not JSON at all passes on untouched: the route says what it expects.

It also sets ``domain.model.EDGE_TODAY`` for the request, so rules about today (no date of
birth in the future) hold while FastAPI validates a body, which it does without any
validation context.  ``api.errors.install_error_handlers`` installs it to run inside the
audit middleware; it names the route it refuses in the scope, so a refusal here is audited
like any other.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import MAX_JSON_DEPTH
from api.office_time import edge_today_anywhere
from domain.model import EDGE_TODAY
from domain.text import describe, unstorable

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOWED = "text as UTF-8, without NUL (U+0000) or unpaired surrogates (U+D800-U+DFFF)"
FILE_UNREADABLE = "file_unreadable"  # the code of every refusal of a referral file that cannot be read


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str
    allowed: str | None = ALLOWED
    code: str = "invalid_request"


class _NotJson(ValueError):
    """A JSON extension Python's parser accepts but JSON (and jsonb) does not."""


class InputGuard:
    """Pure ASGI middleware: refuses (422) a request with an unstorable string anywhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = EDGE_TODAY.set(edge_today_anywhere())
        try:
            problem = _path_problem(scope) or _query_problem(scope)
            if problem is None and scope["method"] in _WITH_BODY:
                messages = await _read(receive)
                body = b"".join(m.get("body", b"") for m in messages)
                receive = _replay(messages, receive)
                problem = await _body_problem(scope, body)
            if problem is not None:
                _name_the_route(scope)
                if _on_a_page(scope, problem):
                    from api.ui.rendering import refuse_unstorable  # the UI is built on the API: late

                    await refuse_unstorable(scope, receive, send, problem.field, problem.reason)
                else:
                    await _refuse(send, problem)
                return
            await self.app(scope, receive, send)
        finally:
            EDGE_TODAY.reset(token)


def _on_a_page(scope: Scope, problem: Problem) -> bool:
    """A UI page (``/ui/...``) is refused with a page, not the API's JSON body."""
    path = scope["path"]
    return (path == "/ui" or path.startswith("/ui/")) and problem.code != FILE_UNREADABLE


# --- path and query ------------------------------------------------------------------------------


def _path_problem(scope: Scope) -> Problem | None:
    reason = unstorable(scope["path"])
    if reason is None:
        return None
    route = _route_of(scope)
    for name, value in (route.get("path_params", {}) if route else {}).items():
        if isinstance(value, str) and (in_param := unstorable(value)):
            return Problem(f"path.{name}", in_param)
    return Problem("path", reason)


def _query_problem(scope: Scope) -> Problem | None:
    query = scope.get("query_string", b"").decode("latin-1")
    return _pairs_problem(urllib.parse.parse_qsl(query, keep_blank_values=True), "query")


def _pairs_problem(pairs: Iterable[tuple[str, Any]], prefix: str) -> Problem | None:
    for key, value in pairs:
        if unstorable(key):
            return Problem(prefix, f"a parameter name {unstorable(key)}")
        if isinstance(value, str) and (reason := unstorable(value)):
            return Problem(f"{prefix}.{key}", reason)
    return None


# --- body ----------------------------------------------------------------------------------------


async def _read(receive: Receive) -> list[Message]:
    """The whole body (its size is already limited by ``api.limits.BodySizeLimit``)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


# Partners' messages are kept as sent, rejected ones included ("every rejected integration
# message is kept and visible"): that route stores a storable copy of the body itself and
# refuses what it cannot apply, so the guard only protects its parser here.
KEPT_AS_SENT = ("/api/v1/integrations/messages",)


async def _body_problem(scope: Scope, body: bytes) -> Problem | None:
    if not body:
        return None
    if scope.get("path") in KEPT_AS_SENT:
        return _json_problem(body, strings=False)
    headers = Headers(scope=scope)
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return _form_problem(body)
    if content_type == "multipart/form-data":
        return await _multipart_problem(headers, body)
    if content_type in CSV_TYPES:
        return _text_problem(body)
    if scope.get("path") == IMPORTS_PATH:
        return _json_file_problem(body)
    return _json_problem(body)


def _form_problem(body: bytes) -> Problem | None:
    """A urlencoded form: every name and value UTF-8 once percent-decoded (a parser decoding
    with replacement stored ``a%FFb`` as ``a\ufffdb``: text silently altered), then storable."""
    pairs = []
    for part in body.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            key = urllib.parse.unquote_plus(name, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            return Problem("body", "a field name is not UTF-8 text once percent-decoded")
        try:
            pairs.append((key, urllib.parse.unquote_plus(value, encoding="utf-8", errors="strict")))
        except UnicodeDecodeError:
            return Problem(f"body.{_printable(key)}", "is not UTF-8 text once percent-decoded (bytes such as %FF, "
                                                        "or a surrogate written as %ED%A0%80)")
    return _pairs_problem(pairs, "body")


# A referral file (``POST /api/v1/imports``): the route reads it and names each bad cell by
# line; the guard only says, in a spreadsheet user's words, when it is not UTF-8 at all.  Such
# a refusal has the code the route gives a file it cannot read (``file_unreadable``).
IMPORTS_PATH = "/api/v1/imports"
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
WORKBOOK_SIGNATURE = b"PK\x03\x04"  # a zip archive: what an .xlsx file is
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian
SAVE_AS_CSV = 'in Excel: Save As "CSV UTF-8 (Comma delimited)"'
UTF16_REASON = 'is UTF-16 text (what Excel saves as "Unicode Text"), not UTF-8'


def is_utf16(body: bytes) -> bool:
    """Whether ``body`` is UTF-16 text: it starts with a UTF-16 byte order mark, or (without
    one) a NUL is every other byte, as in Latin text written two bytes a letter.  UTF-8 text
    has no NUL at all, so a quarter of the bytes at one parity being NUL is no accident."""
    if body.startswith(UTF16_BOMS) and not body.startswith(b"\xff\xfe\x00\x00"):  # not UTF-32
        return True
    sample = body[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return False
    even, odd = sample[0:2 * pairs:2].count(0), sample[1:2 * pairs:2].count(0)
    return max(even, odd) * 4 >= pairs and min(even, odd) * 4 < max(even, odd)


def _text_problem(body: bytes) -> Problem | None:
    if body.startswith(WORKBOOK_SIGNATURE):
        return Problem("body", "is an Excel workbook (.xlsx), not a CSV file", SAVE_AS_CSV, FILE_UNREADABLE)
    if is_utf16(body):
        return Problem("body", f"{UTF16_REASON}: {SAVE_AS_CSV}", f"UTF-8 encoded text ({SAVE_AS_CSV})",
                       FILE_UNREADABLE)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        return Problem("body", f"is not valid UTF-8 (byte 0x{body[exc.start]:02X} on line {line}): the file was "
                               "saved in another encoding (e.g. Windows-1254)",
                       f"UTF-8 encoded text ({SAVE_AS_CSV})", FILE_UNREADABLE)
    return None


def _json_file_problem(body: bytes) -> Problem | None:
    """A JSON referral file: what cannot be read as UTF-8 JSON at all is ``file_unreadable``
    (a string in it that could not be stored stays ``invalid_request``, named by its field)."""
    if body.startswith(WORKBOOK_SIGNATURE):
        return Problem("body", "is an Excel workbook (.xlsx), not a JSON file",
                       f"a JSON file, or a CSV file sent as text/csv ({SAVE_AS_CSV})", FILE_UNREADABLE)
    if is_utf16(body):
        return Problem("body", UTF16_REASON, "UTF-8 encoded JSON", FILE_UNREADABLE)
    problem = _json_problem(body)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return problem if problem is None else replace(problem, code=FILE_UNREADABLE)
    return replace(problem, code=FILE_UNREADABLE) if problem is not None and problem.field == "body" else problem


async def _multipart_problem(headers: Headers, body: bytes) -> Problem | None:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    try:
        form = await MultiPartParser(headers, stream()).parse()
    except MultiPartException:
        return None  # malformed: the route's own parser answers it
    try:
        return _pairs_problem(((k, v) for k, v in form.multi_items()), "body")
    finally:
        await form.close()


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:20]} is too large")
    return value


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _json_problem(body: bytes, *, strings: bool = True) -> Problem | None:
    """``strings=False``: only what no route can parse or store (bad UTF-8 is the route's to
    keep and refuse then: it stores a storable copy)."""
    try:
        text = body.decode("utf-8") if strings else body.decode("utf-8", errors="replace")
    except UnicodeDecodeError as exc:
        return _invalid_utf8(body, exc)
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constants)
    except RecursionError:
        return Problem("body", f"is nested more than {MAX_JSON_DEPTH} levels deep", None)
    except _NotJson as exc:
        return Problem("body", str(exc), "JSON (RFC 8259): finite numbers, no NaN or Infinity")
    except json.JSONDecodeError:
        return None  # not JSON: the route says what it expects
    except ValueError as exc:  # an integer of more digits than Python reads (4,300), or the like
        if "digits" in str(exc):
            return Problem("body", "holds an integer of more than 4,300 digits, which is no count or amount "
                                   "anyone means", "JSON numbers of a sensible size")
        return Problem("body", "cannot be read as JSON", None)
    return _strings_problem(value) if strings else _depth_only(value)


def _depth_only(value: Any) -> Problem | None:
    try:
        for _ in _strings(value):
            pass
    except _TooDeep:
        return Problem("body", f"is nested more than {MAX_JSON_DEPTH} levels deep", None)
    return None


def _invalid_utf8(body: bytes, exc: UnicodeDecodeError) -> Problem:
    """Name the string the bad bytes are in when the rest is JSON; else the body."""
    whole = Problem("body", f"is not valid UTF-8 (byte 0x{body[exc.start]:02X} at offset {exc.start})",
                    "UTF-8 encoded JSON")
    try:
        value = json.loads(body.decode("utf-8", errors="surrogateescape"))
    except (ValueError, RecursionError):
        return whole
    for path, text in _strings(value):
        bad = next((c for c in text if 0xDC80 <= ord(c) <= 0xDCFF), None)
        if bad is not None:
            return Problem(path, f"is not valid UTF-8 (byte 0x{ord(bad) - 0xDC00:02X})", "UTF-8 encoded text")
    return whole


def _strings_problem(value: Any) -> Problem | None:
    try:
        for path, text in _strings(value):
            if reason := unstorable(text):
                return Problem(path, reason)
    except _TooDeep:
        return Problem("body", f"is nested more than {MAX_JSON_DEPTH} levels deep", None)
    return None


class _TooDeep(Exception):
    pass


def _strings(value: Any) -> Iterable[tuple[str, str]]:
    """Every string of a parsed JSON value (keys included) with its field path, depth-first."""
    todo: list[tuple[Any, str, int]] = [(value, "body", 0)]
    while todo:
        current, path, depth = todo.pop()
        if depth > MAX_JSON_DEPTH:
            raise _TooDeep
        if isinstance(current, str):
            yield path, current
        elif isinstance(current, dict):
            for key, item in reversed(list(current.items())):
                yield f"{path}.{_printable(key)}", key
                todo.append((item, f"{path}.{_printable(key)}", depth + 1))
        elif isinstance(current, list):
            todo += [(item, f"{path}.{i}", depth + 1) for i, item in reversed(list(enumerate(current)))]


def _printable(key: str) -> str:
    """A key as a field name: what cannot be shown is written as its code point."""
    return "".join(describe(c).split(" ")[0] if unstorable(c) else c for c in key)


# --- the refusal ---------------------------------------------------------------------------------


def _route_of(scope: Scope) -> Scope | None:
    """What routing would add to the scope (route, endpoint, path parameters), if a route matches.

    FastAPI keeps included routers as nested routes; ``iter_route_contexts`` flattens them
    into routes that know their full path (what the audit records as the action)."""
    for route in iter_route_contexts(scope["app"].routes):
        match, child = route.matches(scope)
        if match == Match.FULL:
            return {**child, "route": route}
    return None


def _name_the_route(scope: Scope) -> None:
    """Put the matching route in the scope, as routing would have, for the audit row; a
    path parameter's unstorable characters become U+FFFD there, so the row can hold it."""
    route = _route_of(scope)
    if route is not None:
        params = route.get("path_params", {})
        route["path_params"] = {k: _storable(v) if isinstance(v, str) else v for k, v in params.items()}
        scope.update(route)


def _storable(value: str) -> str:
    return "".join("\ufffd" if unstorable(c) else c for c in value)


async def _refuse(send: Send, problem: Problem) -> None:
    detail: dict[str, Any] = {"field": problem.field, "reason": problem.reason}
    if problem.allowed is not None:
        detail["allowed"] = problem.allowed
    what = "the file cannot be read" if problem.code == FILE_UNREADABLE else "the request is invalid"
    body = json.dumps({"error": {"code": problem.code,
                                 "message": f"{what}: {problem.field}: {problem.reason}",
                                 "details": [detail]}}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
