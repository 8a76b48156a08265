"""A referral file that cannot be read is refused in a spreadsheet user's words, always with the
code ``file_unreadable``.

Excel's "Unicode Text" is UTF-16 (a byte order mark FF FE or FE FF, or a NUL every other byte
of Latin text): it used to be described as "another encoding (e.g. Windows-1254)".  It is now
named, with the Save As that gives a file the import reads.  The encoding refusals (made by
the API's edge, ``api.input_guard``) used to answer ``invalid_request`` while the route's own
refusals of a file (separator, a column twice, not JSON) answered ``file_unreadable``: every
refusal of a file as a whole is ``file_unreadable`` now; a string in a JSON file that cannot
be stored is still ``invalid_request``, named by its field.  Nothing is imported either way.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.input_guard import is_utf16
from api.referral_import_file import CSV_TEMPLATE, FileUnreadable, read_file
from tests.support.driver import CaseDriver

SAVE_AS = 'Save As "CSV UTF-8 (Comma delimited)"'


async def _upload(http: httpx.AsyncClient, driver: CaseDriver, raw: bytes, kind: str = "text/csv") -> httpx.Response:
    return await http.post("/api/v1/imports", content=raw, params={"file_name": "referrals.csv"},
                           headers={**await driver.login("fatma"), "Content-Type": kind})


def _unreadable(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "file_unreadable", error
    [detail] = error["details"]
    assert detail["field"] == "body", detail
    return {"message": error["message"], **detail}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
async def test_a_utf16_csv_is_named_with_the_save_as_to_use(http: httpx.AsyncClient, driver: CaseDriver,
                                                            encoding: str) -> None:
    """utf-16: with a byte order mark (FF FE, as Excel writes it); -le/-be: none, a NUL every other byte."""
    raw = CSV_TEMPLATE.replace(",", "\t").encode(encoding)  # "Unicode Text" is tab-separated too
    detail = _unreadable(await _upload(http, driver, raw))
    assert "UTF-16" in detail["reason"] and "Unicode Text" in detail["reason"], detail
    assert SAVE_AS in detail["reason"] and SAVE_AS in detail["allowed"], detail
    assert "1254" not in detail["reason"] and "UTF-16" in detail["message"], detail


async def test_every_refusal_of_an_unreadable_csv_is_file_unreadable(http: httpx.AsyncClient,
                                                                     driver: CaseDriver) -> None:
    turkish = CSV_TEMPLATE.replace("Amina Haddad", "Şükrü Yılmaz").encode("cp1254")
    detail = _unreadable(await _upload(http, driver, turkish))
    assert "Windows-1254" in detail["reason"] and "on line 2" in detail["reason"], detail
    assert "CSV UTF-8" in detail["allowed"] and detail["message"].startswith("the file cannot be read"), detail

    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U\x80[Content_Types].xml"
    assert "Excel workbook" in _unreadable(await _upload(http, driver, workbook))["reason"]

    semicolons = CSV_TEMPLATE.replace(",", ";").encode()
    assert "separated by ';'" in _unreadable(await _upload(http, driver, semicolons))["reason"]

    header, rest = CSV_TEMPLATE.split("\n", 1)
    twice = f"{header},office\n{rest}".encode()
    assert "more than once" in _unreadable(await _upload(http, driver, twice))["reason"]


async def test_a_json_file_that_cannot_be_read_is_file_unreadable(http: httpx.AsyncClient,
                                                                  driver: CaseDriver) -> None:
    referrals = json.dumps({"referrals": [{"external_referral_id": "UNHCR-TEST-JSON-1"}]})
    for encoding in ("utf-16", "utf-16-le"):
        detail = _unreadable(await _upload(http, driver, referrals.encode(encoding), "application/json"))
        assert "UTF-16" in detail["reason"] and detail["allowed"] == "UTF-8 encoded JSON", detail

    not_utf8 = referrals.replace("JSON-1", "JSON-\u00e7").encode("cp1254")
    answer = await _upload(http, driver, not_utf8, "application/json")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "file_unreadable", answer.text
    assert "not valid UTF-8" in answer.json()["error"]["details"][0]["reason"], answer.text

    assert "NaN" in _unreadable(await _upload(http, driver, b'{"referrals": [NaN]}', "application/json"))["reason"]
    assert "not JSON" in _unreadable(await _upload(http, driver, b"referrals: none", "application/json"))["reason"]

    # a string that cannot be stored is a bad field, not an unreadable file: named as before
    nul = json.dumps({"referrals": [{"external_referral_id": "UNHCR-TEST-JSON-2", "office": "IST\u0000"}]})
    answer = await _upload(http, driver, nul.encode(), "application/json")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request", answer.text
    assert answer.json()["error"]["details"][0]["field"] == "body.referrals.0.office", answer.text


async def test_the_import_refusals_are_documented(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    refused = document["paths"]["/api/v1/imports"]["post"]["responses"]["422"]["description"]
    assert "file_unreadable" in refused and "UTF-16" in refused and "invalid_request" in refused


def test_the_file_reader_names_utf16_itself() -> None:
    """What the route reads (the edge refuses such a file first: this is the route's own word)."""
    with pytest.raises(FileUnreadable, match="UTF-16.*CSV UTF-8"):
        read_file(CSV_TEMPLATE.encode("utf-16"), "csv", None)  # type: ignore[arg-type]
    with pytest.raises(FileUnreadable, match="UTF-16"):
        read_file(b'{"referrals": []}'.decode().encode("utf-16-le"), "json", None)  # type: ignore[arg-type]


def test_what_is_utf16_and_what_is_not() -> None:
    assert is_utf16("a".encode("utf-16")) and is_utf16(b"\xfe\xff\x00a")
    assert is_utf16("Şükrü Yılmaz,ĞİÇ\n".encode("utf-16-le"))  # Turkish letters have no NUL half: still
    assert not is_utf16(CSV_TEMPLATE.encode()) and not is_utf16(CSV_TEMPLATE.encode("utf-8-sig"))
    assert not is_utf16(CSV_TEMPLATE.encode("cp1254")) and not is_utf16(b"") and not is_utf16(b"a")
    assert not is_utf16("ab".encode("utf-32"))  # FF FE 00 00: UTF-32, not UTF-16
