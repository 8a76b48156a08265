"""Bulk referral import (issue 14): a CSV or JSON file of referrals becomes a durable job
(the ReferralImport workflow) that refers each valid referral through the case workflows;
per-referral results; a second upload creates nothing; a worker restart mid-way creates no
duplicate case."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from api.case_ids import case_id_key
from api.referral_import_file import CSV_COLUMNS, SPONSOR_COLUMNS, read_file
from domain.identity import case_id_for
from store import referral_imports as store
from store.db import create_pool
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.waiting import eventually
from worker import build_worker
from workflows.referral_import import ImportInput, ReferralImportWorkflow, import_workflow_id


def _csv(referrals: list[dict[str, Any]], extra_lines: list[list[str]] = ()) -> str:  # type: ignore[assignment]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for body in referrals:
        sponsor = body.get("sponsor") or {}
        for i, m in enumerate(body["members"]):
            head = [body.get(c, "") if i == 0 else "" for c in CSV_COLUMNS[1:6]]
            sponsored = [sponsor.get(c.removeprefix("sponsor_")) or "" if i == 0 else "" for c in SPONSOR_COLUMNS]
            writer.writerow([body["external_referral_id"], *head, m["full_name"], m["date_of_birth"], m["sex"],
                             m["nationality"], m["relationship"], *sponsored])
    for line in extra_lines:
        writer.writerow(line)
    return out.getvalue()


async def _upload(http: httpx.AsyncClient, headers: dict[str, str], content: str, kind: str = "text/csv") -> dict:
    answer = await http.post("/api/v1/imports", content=content.encode(), params={"file_name": "test.csv"},
                             headers={**headers, "Content-Type": kind})
    assert answer.status_code == 202, answer.text
    return answer.json()


async def _finished(http: httpx.AsyncClient, headers: dict[str, str], import_id: str, timeout: float = 240) -> dict:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        answer = await http.get(f"/api/v1/imports/{import_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        seen.update(answer.json())
        return seen["status"] == "completed"

    await eventually(done, timeout=timeout, interval=0.5, what=lambda: f"import {import_id} to complete: {seen}")
    return seen


async def _all_rows(http: httpx.AsyncClient, headers: dict[str, str], import_id: str) -> list[dict]:
    rows, after = [], 0
    while True:
        page = (await http.get(f"/api/v1/imports/{import_id}/rows", params={"after": after, "limit": 1000},
                               headers=headers)).json()
        rows += page["items"]
        if page["next_after"] is None:
            return rows
        after = page["next_after"]


async def test_import_with_invalid_and_repeated_rows_then_a_second_upload_creates_nothing(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("fatma")  # supervisor, IST
    batch = uuid.uuid4().hex[:8].upper()
    good = [referral(size=1 + i % 3, external_referral_id=f"IMP-{batch}-{i:04d}") for i in range(200)]
    already = good[0]
    assert (await http.post("/api/v1/cases", json=already, headers=await driver.login("ayse"))).status_code == 201
    other_office = referral(office="IZM", external_referral_id=f"IMP-{batch}-IZM")
    bad_sex = referral(size=1, external_referral_id=f"IMP-{batch}-SEX")
    bad_sex["members"][0]["sex"] = "f"
    bad_country = referral(size=1, external_referral_id=f"IMP-{batch}-CTY", destination_country="XX")
    text = _csv([*good, other_office, bad_sex, bad_country],
                extra_lines=[["", "resettlement", "IST", "", "NO", "", "No Id", "1990-01-01", "male", "SY", "principal"]])

    job = await _upload(http, headers, text)
    assert job["total"] == 204 and job["counts"]["invalid"] == 4  # judged at upload
    final = await _finished(http, headers, job["import_id"])
    assert final["counts"] == {"pending": 0, "created": 199, "already_referred": 1, "invalid": 4, "failed": 0}

    rows = await _all_rows(http, headers, job["import_id"])
    by_id = {r["external_referral_id"]: r for r in rows}
    assert by_id[already["external_referral_id"]]["outcome"] == "already_referred"
    office_error = by_id[other_office["external_referral_id"]]["errors"][0]
    assert office_error["field"] == "office" and office_error["allowed"] == ["IST"]
    sex_error = by_id[bad_sex["external_referral_id"]]["errors"][0]
    assert sex_error["field"] == "sex" and "female" in str(sex_error["allowed"])
    assert sex_error["line"] == by_id[bad_sex["external_referral_id"]]["lines"][0]
    assert by_id[bad_country["external_referral_id"]]["errors"][0]["field"] == "destination_country"
    assert by_id[None]["errors"][0]["field"] == "external_referral_id"

    # Exactly one case and one CaseReferred per referral; each case as POST /api/v1/cases makes it.
    ids = [b["external_referral_id"] for b in good]
    async with stack.pool.acquire() as conn:
        cases = await conn.fetchval("SELECT count(*) FROM cases WHERE external_referral_id = ANY($1)", ids)
        referred = await conn.fetchval(
            "SELECT count(*) FROM case_events e JOIN cases c USING (case_id) WHERE c.external_referral_id = ANY($1) "
            "AND e.event_type = 'CaseReferred'", ids)
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'POST /api/v1/imports' "
                                      "AND case_id IS NOT NULL AND actor_id = 'fatma' AND case_id = ANY($1)",
                                      [r["case_id"] for r in rows if r["outcome"] == "created"])
    assert (cases, referred, audited) == (200, 200, 199)
    case = (await http.get(f"/api/v1/cases/{by_id[ids[5]]['case_id']}", headers=headers)).json()
    assert case["stage"] == "referral" and len(case["members"]) == 1 + 5 % 3

    # The same file again: nothing new.
    again = await _finished(http, headers, (await _upload(http, headers, text))["import_id"])
    assert again["counts"] == {"pending": 0, "created": 0, "already_referred": 200, "invalid": 4, "failed": 0}
    async with stack.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM case_events e JOIN cases c USING (case_id) "
                                   "WHERE c.external_referral_id = ANY($1) AND e.event_type = 'CaseReferred'",
                                   ids) == 200


async def test_json_file_repeats_within_the_file_and_access(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("fatma")
    one, two = referral(), referral()
    clash = {**two, "priority": "emergency"}
    job = await _upload(http, headers, json.dumps({"referrals": [one, two, one, clash, {"office": "IST"}]}),
                        "application/json")
    final = await _finished(http, headers, job["import_id"])
    assert final["counts"] == {"pending": 0, "created": 2, "already_referred": 1, "invalid": 2, "failed": 0}
    rows = await _all_rows(http, headers, job["import_id"])
    assert [r["outcome"] for r in rows] == ["created", "created", "already_referred", "invalid", "invalid"]
    assert "item 1" in rows[2]["errors"][0]["reason"] and "item 2" in rows[3]["errors"][0]["reason"]
    assert {e["field"] for e in rows[4]["errors"]} >= {"external_referral_id", "members"}

    # Supervisors of the office only: a caseworker is refused, another office's supervisor sees nothing.
    assert (await http.get(f"/api/v1/imports/{job['import_id']}", headers=await driver.login("ayse"))).status_code == 403
    assert (await http.get(f"/api/v1/imports/{job['import_id']}", headers=await driver.login("ali"))).status_code == 404
    refused = await http.post("/api/v1/imports", content=b"x", headers={**await driver.login("ayse"),
                                                                        "Content-Type": "text/csv"})
    assert refused.status_code == 403
    template = await http.get("/api/v1/imports/template", headers=headers)
    assert template.status_code == 200 and template.text.startswith(",".join(CSV_COLUMNS))
    assert read_file(template.content, "csv", __import__("datetime").date.today())[0].valid
    unreadable = await http.post("/api/v1/imports", content=b"name,age\nx,1\n",
                                 headers={**headers, "Content-Type": "text/csv"})
    assert unreadable.status_code == 422 and unreadable.json()["error"]["code"] == "file_unreadable"


async def test_a_worker_restart_mid_import_creates_no_duplicate(stack) -> None:
    """The job runs on a task queue of its own whose worker is stopped mid-way (its chunk
    activities cancelled while referring) and started again: every referral gets exactly one
    case, and each row counts as created."""
    batch = uuid.uuid4().hex[:8].upper()
    bodies = [referral(size=1, external_referral_id=f"RST-{batch}-{i:04d}") for i in range(240)]
    items = read_file(_csv(bodies).encode(), "csv", __import__("datetime").date.today())
    key = case_id_key(stack.settings)
    import_id = f"imp-test-{batch.lower()}"
    rows = [store.NewRow(item=i.item, lines=i.lines, external_referral_id=i.external_referral_id,
                         case_id=case_id_for(i.external_referral_id, key), referral=i.referral.model_dump(mode="json"),
                         known_before=False, outcome="pending", errors=[]) for i in items]
    terms = {"timeout_seconds": 15, "arrival_confirmation_days": 3, "monitoring_months": [3, 6, 12],
             "office_time_zones": {"IST": "Europe/Istanbul"}, "default_time_zone": "Europe/Istanbul"}
    async with stack.pool.acquire() as conn:
        await store.create_import(conn, import_id=import_id, offices=["IST"], uploaded_by="fatma",
                                  actor={"kind": "user", "id": "fatma", "role": "supervisor", "offices": ["IST"]},
                                  source_ip=None, file_name=None, file_format="csv", file_sha256="0" * 64,
                                  terms=terms, rows=rows)

    async def decided() -> int:
        async with stack.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM referral_import_rows WHERE import_id = $1 "
                                       "AND outcome <> 'pending'", import_id)

    queue = f"import-restart-{batch.lower()}"
    pool = await create_pool(stack.settings.database_url)
    try:
        async with build_worker(stack.temporal, pool, queue):
            handle = await stack.temporal.start_workflow(
                ReferralImportWorkflow.run, ImportInput(import_id=import_id, total=len(rows), chunk_size=40, lanes=2,
                                                        chunks_per_run=3),
                id=import_workflow_id(import_id), task_queue=queue)
            await eventually(lambda: _more_than(decided, 30), timeout=120, what="some rows to be decided")
        stopped_at = await decided()
        assert stopped_at < len(rows), "the worker stopped after the import had finished: nothing was tested"
        async with build_worker(stack.temporal, pool, queue):
            summary = await asyncio.wait_for(handle.result(), timeout=300)
    finally:
        await pool.close()
    assert summary.counts == {"pending": 0, "created": 240, "already_referred": 0, "invalid": 0, "failed": 0}
    async with stack.pool.acquire() as conn:
        per_case = await conn.fetch(
            "SELECT c.case_id, count(*) AS n FROM cases c JOIN case_events e USING (case_id) "
            "WHERE c.external_referral_id = ANY($1) AND e.event_type = 'CaseReferred' GROUP BY c.case_id",
            [b["external_referral_id"] for b in bodies])
        retried = await conn.fetchval("SELECT count(*) FROM referral_import_rows WHERE import_id = $1 "
                                      "AND attempts > 1", import_id)
    assert len(per_case) == 240 and all(r["n"] == 1 for r in per_case)
    # It continued as new (3 chunks per run): the history stays bounded.
    history = await handle.fetch_history()
    assert len(history.events) < 200
    print(f"worker stopped with {stopped_at}/240 decided; {retried} rows sent again after the restart")


async def _more_than(count, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await count() > n


async def test_itinera_import_command_uploads_the_example_file_and_shows_progress(stack, tmp_path) -> None:
    """``itinera import FILE`` (over HTTP, as a supervisor): the example file of the repository,
    its referral ids made unique for this run; the same file again creates nothing."""
    from tests.support.cli import PROJECT, cli_env, itinera
    from tests.support.users import TEST_PASSWORD

    run = uuid.uuid4().hex[:6].upper()
    text = (PROJECT / "examples" / "referrals.csv").read_text()
    text = text.replace("UNHCR-TUR-2026-", f"UNHCR-{run}-").replace("IOM-TUR-AVRR-2026-", f"IOM-{run}-")
    path = tmp_path / "referrals.csv"
    path.write_text(text)
    env = cli_env(password=TEST_PASSWORD)
    first = await itinera("import", str(path), "--api", stack.base_url, "--username", "fatma", env=env)
    # fatma works in IST: the example's IZM referrals are refused with that reason, the rest created.
    assert first.returncode == 1, first.stderr
    assert "office: not one of your offices (allowed: ['IST'])" in first.stdout
    created = int(first.stdout.split(" created")[0].rsplit(" ", 1)[-1])
    assert created > 0 and "import imp-" in first.stderr + first.stdout
    again = await itinera("import", str(path), "--api", stack.base_url, "--username", "fatma", env=env)
    assert f": 0 created, {created} already referred" in again.stdout, again.stdout


async def test_an_upload_whose_job_never_started_starts_on_the_next_read(stack, http: httpx.AsyncClient,
                                                                         driver: CaseDriver) -> None:
    """The API stored the upload and died (or Temporal was away) before starting its workflow:
    the next GET of the import starts it, and it runs to the end."""
    batch = uuid.uuid4().hex[:8].upper()
    items = read_file(_csv([referral(size=1, external_referral_id=f"LOST-{batch}-{i}") for i in range(5)]).encode(),
                      "csv", __import__("datetime").date.today())
    key = case_id_key(stack.settings)
    import_id = f"imp-lost-{batch.lower()}"
    settings = stack.settings
    terms = {"timeout_seconds": 15, "arrival_confirmation_days": settings.arrival_confirmation_days,
             "monitoring_months": list(settings.avrr_monitoring_months),
             "office_time_zones": dict(settings.office_time_zones), "default_time_zone": settings.default_time_zone}
    async with stack.pool.acquire() as conn:
        await store.create_import(
            conn, import_id=import_id, offices=["IST"], uploaded_by="fatma",
            actor={"kind": "user", "id": "fatma", "role": "supervisor", "offices": ["IST"]}, source_ip=None,
            file_name="lost.csv", file_format="csv", file_sha256="0" * 64, terms=terms,
            rows=[store.NewRow(item=i.item, lines=i.lines, external_referral_id=i.external_referral_id,
                               case_id=case_id_for(i.external_referral_id, key),
                               referral=i.referral.model_dump(mode="json"), known_before=False, outcome="pending",
                               errors=[]) for i in items])
    headers = await driver.login("fatma")
    final = await _finished(http, headers, import_id, timeout=60)
    assert final["counts"]["created"] == 5 and final["status"] == "completed"


async def test_an_import_row_with_an_invisible_character_in_a_name_is_an_invalid_row_naming_it(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("fatma")
    batch = uuid.uuid4().hex[:8].upper()
    hidden = referral(size=2, external_referral_id=f"IMP-{batch}-ZWSP")
    hidden["members"][1]["full_name"] = "Omar\u200bHaddad"
    persian = referral(size=1, external_referral_id=f"IMP-{batch}-FA")
    persian["members"][0]["full_name"] = "زهرا محمدی\u200cنژاد"
    for content, kind in ((_csv([hidden, persian]), "text/csv"),
                          (json.dumps({"referrals": [hidden, persian]}), "application/json")):
        job = await _upload(http, headers, content, kind)
        assert job["total"] == 2 and job["counts"]["invalid"] == 1, job
        await _finished(http, headers, job["import_id"])
        rows = {r["external_referral_id"]: r for r in await _all_rows(http, headers, job["import_id"])}
        [error] = rows[hidden["external_referral_id"]]["errors"]
        assert error["field"].endswith("full_name") and "U+200B ZERO WIDTH SPACE" in error["reason"], error
        assert "U+200C" in error["allowed"]
        assert rows[persian["external_referral_id"]]["outcome"] in ("created", "already_referred")
    found = await http.get("/api/v1/cases", params={"q": hidden["external_referral_id"]}, headers=headers)
    assert found.json()["items"] == []


async def test_family_reunification_referrals_come_in_a_csv_with_their_sponsor(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """The sponsor's columns (``sponsor_full_name``, ...) on a family's first line: the family
    is referred with its sponsor; a sponsor column another line contradicts, a status the model
    does not know, or no sponsor at all is an invalid row naming the column and the line."""
    from tests.test_family_reunification import SPONSOR, family

    headers = await driver.login("fatma")
    batch = uuid.uuid4().hex[:8].upper()
    good = family(external_referral_id=f"IMP-{batch}-FR")
    bad_status = family(external_referral_id=f"IMP-{batch}-FR-STATUS", sponsor=SPONSOR | {"protection_status": "tourist"})
    no_sponsor = family(external_referral_id=f"IMP-{batch}-FR-NONE", sponsor=None)
    text = _csv([good, bad_status, no_sponsor])
    lines = text.splitlines()
    assert lines[0].endswith(",".join(SPONSOR_COLUMNS))
    job = await _upload(http, headers, text)
    assert job["total"] == 3 and job["counts"]["invalid"] == 2, job
    await _finished(http, headers, job["import_id"])
    rows = {r["external_referral_id"]: r for r in await _all_rows(http, headers, job["import_id"])}
    assert rows[good["external_referral_id"]]["outcome"] == "created", rows[good["external_referral_id"]]
    [status] = rows[bad_status["external_referral_id"]]["errors"]
    assert (status["field"], status["line"]) == ("sponsor_protection_status", 5), status
    [missing] = rows[no_sponsor["external_referral_id"]]["errors"]
    assert "sponsor" in missing["field"] + missing["reason"], missing
    case_id = rows[good["external_referral_id"]]["case_id"]
    case = (await http.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    assert case["programme"] == "family_reunification"
    assert case["programme_data"]["sponsor"]["full_name"] == SPONSOR["full_name"]


def test_what_a_spreadsheet_user_sends_gets_an_answer_in_their_words() -> None:
    """Files as Excel writes them (a tester's): separated by semicolons, a column twice, dates
    as 14/03/1988, country codes in lower case."""
    import pytest

    from api.referral_import_file import FileUnreadable

    today = datetime.now(UTC).date()
    body = referral(size=1)
    text = _csv([body])
    with pytest.raises(FileUnreadable, match="separated by ';', not by commas"):
        read_file(text.replace(",", ";").encode(), "csv", today)
    header, line = text.splitlines()
    with pytest.raises(FileUnreadable, match="column office appears more than once"):
        read_file(f"{header},office\n{line},IZM\n".encode(), "csv", today)

    born = body["members"][0]["date_of_birth"]  # YYYY-MM-DD
    day_first = f"{born[8:10]}/{born[5:7]}/{born[:4]}"
    [item] = read_file(text.replace(born, day_first).encode(), "csv", today)
    [error] = item.errors
    assert (error["field"], error["allowed"]) == ("date_of_birth", "a date written YYYY-MM-DD, e.g. 1988-03-14 "
                                                                   "(not 14/03/1988)"), error
    nationality = body["members"][0]["nationality"]
    lowered = text.replace(f",{nationality},", f",{nationality.lower()},")
    [item] = read_file(lowered.encode(), "csv", today)
    assert item.valid and item.referral.members[0].nationality == nationality, item.errors


async def test_a_file_saved_in_a_turkish_windows_encoding_is_refused_naming_the_line(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("fatma")
    body = referral(size=1)
    body["members"][0]["full_name"] = "Şükrü Yılmaz"
    raw = _csv([body]).encode("cp1254")
    answer = await http.post("/api/v1/imports", content=raw, params={"file_name": "excel.csv"},
                             headers={**headers, "Content-Type": "text/csv"})
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert "on line 2" in detail["reason"] and "CSV UTF-8" in detail["allowed"], detail

    # A workbook renamed .csv: said so, not its bytes.
    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U\x80[Content_Types].xml"
    answer = await http.post("/api/v1/imports", content=workbook, params={"file_name": "referrals.csv"},
                             headers={**headers, "Content-Type": "text/csv"})
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert "Excel workbook" in detail["reason"] and "Content_Types" not in answer.text, answer.text


async def test_a_row_to_the_host_country_is_invalid_at_upload_naming_its_line(http: httpx.AsyncClient,
                                                                              driver: CaseDriver) -> None:
    """explore11 F3: it was counted pending at upload, then failed in the import with no line
    and a case id that answered 404; now it is an invalid row, as the same referral sent alone."""
    headers = await driver.login("fatma")
    home, fine = referral(destination_country="TR"), referral()
    job = await _upload(http, headers, json.dumps({"referrals": [home, fine]}), "application/json")
    final = await _finished(http, headers, job["import_id"])
    assert final["counts"] == {"pending": 0, "created": 1, "already_referred": 0, "invalid": 1, "failed": 0}
    rows = await _all_rows(http, headers, job["import_id"])
    [error] = rows[0]["errors"]
    assert rows[0]["outcome"] == "invalid" and rows[0]["case_id"] is None
    assert error["field"] == "destination_country" and "host country of office IST" in error["reason"], error
