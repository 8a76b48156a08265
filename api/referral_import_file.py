"""Reading a bulk referral file (issue 14): CSV or JSON, each referral judged on its own.

**CSV** (UTF-8, a header line, comma-separated): one line per person; the lines that share an
``external_referral_id`` are one referral (in file order; they need not be adjacent).  The
referral's own columns (``programme``, ``office``, ``priority``, ``destination_country``,
``origin_country``) are read from its first line and may be left empty on the others; a
later line that states another value makes the referral invalid.  So are a family
reunification referral's sponsor columns (``sponsor_full_name``, ``sponsor_protection_status``,
... : ``SPONSOR_COLUMNS``, the ``Sponsor`` model's fields; optional in the header, so files
without a sponsor keep their columns).  An empty cell is an absent value (the default
applies).  Columns: ``CSV_COLUMNS``.

**JSON**: a list of referrals, or ``{"referrals": [...]}``, each exactly the body of
``POST /api/v1/cases``.

Every referral becomes one ``ImportItem``: valid (a ``Referral``) or invalid with its
errors, each naming the line(s), the field, the reason and, where the rule has them, the
allowed values.  One invalid referral never holds back another.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from api.input_guard import SAVE_AS_CSV, UTF16_REASON, is_utf16
from domain.model import Referral, Sponsor
from domain.referral_request import ReferralRequest
from domain.text import unstorable

SPONSOR_PREFIX = "sponsor_"
SPONSOR_COLUMNS = tuple(SPONSOR_PREFIX + name for name in Sponsor.model_fields)
CSV_COLUMNS = ("external_referral_id", "programme", "office", "priority", "destination_country", "origin_country",
               "full_name", "date_of_birth", "sex", "nationality", "relationship", *SPONSOR_COLUMNS)
REFERRAL_COLUMNS = ("programme", "office", "priority", "destination_country", "origin_country", *SPONSOR_COLUMNS)
MEMBER_COLUMNS = ("full_name", "date_of_birth", "sex", "nationality", "relationship")
COUNTRY_COLUMNS = ("destination_country", "origin_country", "nationality")
MAX_REFERRALS = 20_000
MAX_FILE_BYTES = 16 * 1024 * 1024

CSV_TEMPLATE = (
    ",".join(CSV_COLUMNS) + "\n"
    "UNHCR-TUR-2026-004211,resettlement,IST,normal,NO,,Amina Haddad,1988-03-14,female,SY,principal,,,,,,\n"
    "UNHCR-TUR-2026-004211,,,,,,Omar Haddad,2014-07-02,male,SY,child,,,,,,\n"
    "IOM-TUR-AVRR-2026-0142,avrr,IST,normal,,IQ,Karwan Aziz,1991-02-17,male,IQ,principal,,,,,,\n"
    "IOM-TUR-FR-2026-0031,family_reunification,IST,normal,DE,,Rania Haddad,1990-11-05,female,SY,spouse,"
    "Yusuf Haddad,1987-04-20,refugee,DE-BER-AT-2025-118402,Berlin,+49 30 1234567\n"
    "IOM-TUR-FR-2026-0031,,,,,,Lina Haddad,2016-02-11,female,SY,child,,,,,,\n"
)
JSON_TEMPLATE: dict[str, Any] = {"referrals": Referral.model_config["json_schema_extra"]["examples"]}  # type: ignore[index]


class FileUnreadable(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, no header, too many referrals)."""


@dataclass
class ImportItem:
    item: int                            # 1-based position of the referral in the file
    lines: list[int]                     # CSV line numbers (header = line 1); JSON: [item]
    external_referral_id: str | None
    referral: Referral | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Set after reading: "already_referred" for a repeat of an earlier referral of the file.
    outcome: str | None = None

    @property
    def valid(self) -> bool:
        return self.referral is not None and not self.errors


def _details(exc: ValidationError, line_of_member: list[int] | None, first_line: int) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        line = first_line
        if line_of_member is not None and len(loc) >= 2 and loc[0] == "members" and loc[1].isdigit():
            index = int(loc[1])
            line = line_of_member[index] if index < len(line_of_member) else first_line
            loc = loc[2:] or ["members"]
        if line_of_member is not None and len(loc) >= 2 and loc[0] == "sponsor":
            loc = [SPONSOR_PREFIX + loc[1]]  # the CSV's column
        detail: dict[str, Any] = {"line": line, "field": ".".join(loc) or "referral",
                                  "reason": error.get("msg", "invalid")}
        ctx = error.get("ctx") or {}
        if error.get("type", "").startswith(("date_", "datetime_")) and error.get("type") != "date_future":
            detail["allowed"] = "a date written YYYY-MM-DD, e.g. 1988-03-14 (not 14/03/1988)"
        elif "expected" in ctx:
            detail["allowed"] = ctx["expected"]
        elif "pattern" in ctx:
            detail["allowed"] = f"text matching {ctx['pattern']}"
        details.append(detail)
    return details


def _validate(data: Any, today: date, lines: list[int], line_of_member: list[int] | None) -> tuple[Referral | None, list[dict[str, Any]]]:
    try:
        context = {"today": today}
        return ReferralRequest.model_validate(data, context=context).as_referral(context), []
    except ValidationError as exc:
        return None, _details(exc, line_of_member, lines[0])


def read_csv(text: str, today: date) -> list[ImportItem]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileUnreadable("the file is empty: expected a header line "
                             f"({','.join(CSV_COLUMNS)})") from None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0].lstrip("\ufeff")
    if len(header) == 1 and (separator := next((s for s in (";", "\t", "|") if s in header[0]), None)):
        shown = "a tab" if separator == "\t" else f"'{separator}'"
        raise FileUnreadable(f"CSV header: the columns are separated by {shown}, not by commas (Excel writes that in "
                             'some languages): save the file as "CSV UTF-8 (Comma delimited)"; expected '
                             f"{','.join(CSV_COLUMNS)}")
    twice = sorted({h for h in header if header.count(h) > 1 and h})
    if twice:
        raise FileUnreadable(f"CSV header: column {', '.join(twice)} appears more than once; each column once")
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in ("external_referral_id", "office", *MEMBER_COLUMNS) if c not in header]
    if unknown or missing:
        raise FileUnreadable(f"CSV header: unknown columns {unknown}, missing columns {missing}; "
                             f"expected {','.join(CSV_COLUMNS)}")
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    order: list[str] = []
    items: list[ImportItem] = []
    loose: list[ImportItem] = []  # lines without a referral id: each its own invalid item
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        row = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(header)}
        for name in COUNTRY_COLUMNS:  # "sy" as the forms take it: country codes are upper case
            if name in row and len(row[name]) == 2 and row[name].isascii():
                row[name] = row[name].upper()
        if len(record) > len(header):
            row["__extra__"] = "x"
        key = row.get("external_referral_id", "")
        if not key:
            loose.append(ImportItem(item=0, lines=[line], external_referral_id=None, errors=[
                {"line": line, "field": "external_referral_id", "reason": "required: every line names its referral"}]))
            continue
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((line, row))
        if len(order) > MAX_REFERRALS:
            raise FileUnreadable(f"more than {MAX_REFERRALS} referrals in one file; split it")
    for key in order:
        rows = groups[key]
        lines = [line for line, _ in rows]
        errors: list[dict[str, Any]] = []
        for line, row in rows:
            if "__extra__" in row:
                errors.append({"line": line, "field": "line", "reason": f"more cells than the header's {len(header)}"})
            for name, value in row.items():
                if name != "__extra__" and unstorable(value):
                    errors.append({"line": line, "field": name, "reason": "contains a NUL or an unpaired surrogate"})
        first = rows[0][1]
        data: dict[str, Any] = {"external_referral_id": key}
        for name in REFERRAL_COLUMNS:
            if first.get(name):
                if name.startswith(SPONSOR_PREFIX):
                    data.setdefault("sponsor", {})[name.removeprefix(SPONSOR_PREFIX)] = first[name]
                else:
                    data[name] = first[name]
            for line, row in rows[1:]:
                if row.get(name) and row[name] != first.get(name):
                    errors.append({"line": line, "field": name,
                                   "reason": f"differs from the referral's first line ({lines[0]}): "
                                             f"'{row[name]}' vs '{first.get(name, '')}'"})
        data["members"] = [{name: row[name] for name in MEMBER_COLUMNS if row.get(name)} for _, row in rows]
        item = ImportItem(item=0, lines=lines, external_referral_id=key)
        if not errors:
            item.referral, item.errors = _validate(data, today, lines, lines)
        else:
            item.errors = errors
        items.append(item)
    everything = sorted(items + loose, key=lambda i: i.lines[0])
    for number, item in enumerate(everything, start=1):
        item.item = number
    return everything


def read_json(raw: bytes, today: date) -> list[ImportItem]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FileUnreadable(f"not JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"referrals"}:
        data = data["referrals"]
    if not isinstance(data, list):
        raise FileUnreadable('expected a JSON list of referrals, or {"referrals": [...]}')
    if len(data) > MAX_REFERRALS:
        raise FileUnreadable(f"more than {MAX_REFERRALS} referrals in one file; split it")
    items = []
    for number, entry in enumerate(data, start=1):
        key = entry.get("external_referral_id") if isinstance(entry, dict) else None
        item = ImportItem(item=number, lines=[number], external_referral_id=key if isinstance(key, str) else None)
        item.referral, item.errors = _validate(entry, today, [number], None)
        items.append(item)
    return items


def read_file(raw: bytes, file_format: str, today: date) -> list[ImportItem]:
    """The referrals of a file, each judged; repeats of a referral within the file marked."""
    if is_utf16(raw):  # Excel's "Unicode Text" (Python's json would even read it): not what the file is to be
        save_as = SAVE_AS_CSV if file_format == "csv" else "save it as UTF-8"
        raise FileUnreadable(f"the file {UTF16_REASON}: {save_as}")
    if file_format == "csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FileUnreadable(
                f"the CSV file is not UTF-8 ({exc.reason} at byte {exc.start}): {SAVE_AS_CSV}") from None
        items = read_csv(text, today)
    else:
        items = read_json(raw, today)
    _mark_repeats(items)
    return items


def _mark_repeats(items: list[ImportItem]) -> None:
    """The same referral id twice in a file (JSON; CSV groups lines by id): the same data again
    is a repeat (already referred by its first item), other data is invalid."""
    first: dict[str, ImportItem] = {}
    for item in items:
        if not item.valid or item.external_referral_id is None:
            continue
        earlier = first.get(item.external_referral_id)
        if earlier is None:
            first[item.external_referral_id] = item
        elif earlier.referral == item.referral:
            item.outcome = "already_referred"
            item.errors = [{"line": item.lines[0], "field": "external_referral_id",
                            "reason": f"the same referral as item {earlier.item} of this file"}]
        else:
            item.referral = None
            item.errors = [{"line": item.lines[0], "field": "external_referral_id",
                            "reason": f"item {earlier.item} of this file has this referral id with different data"}]
