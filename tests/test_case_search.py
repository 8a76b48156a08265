"""Case search finds a case by its own id, any part of its referral id, and by names in any
case, with or without accents or Arabic short-vowel marks."""

from __future__ import annotations

import uuid

import httpx
import pytest

from domain.search_text import fold
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral


def test_folding_drops_case_accents_and_diacritics() -> None:
    assert fold("Ayşe ÖZTÜRK") == "ayse ozturk"
    assert fold("Yıldız") == "yildiz"
    assert fold("مُحَمَّد") == fold("محمد")


@pytest.fixture
async def family(driver: CaseDriver) -> dict:
    ref = f"UNHCR-TUR-SRCH-{uuid.uuid4().hex[:8].upper()}"
    body = referral(external_referral_id=ref, members=[member("Ayşe Öztürk", "1987-05-12", "principal"),
                                                       member("مُحَمَّد الحداد", "2012-03-01", "child", sex="male")])
    return await driver.refer(body)


@pytest.mark.parametrize("query", ["ayse ozturk", "AYŞE", "Öztürk", "محمد", "مُحَمَّد"])
async def test_names_in_any_case_with_or_without_accents(query: str, family: dict, http: httpx.AsyncClient,
                                                         driver: CaseDriver) -> None:
    assert family["case_id"] in await _found(http, driver, query)


async def test_the_case_id_as_shown_and_part_of_the_referral_id(family: dict, http: httpx.AsyncClient,
                                                                driver: CaseDriver) -> None:
    assert family["case_id"] in await _found(http, driver, family["case_id"].lower())
    part = family["external_referral_id"].split("-")[-1].lower()
    assert family["case_id"] in await _found(http, driver, part)
    assert await _found(http, driver, "%") == [] or family["case_id"] not in await _found(http, driver, "_%_")


async def _found(http: httpx.AsyncClient, driver: CaseDriver, query: str) -> list[str]:
    r = await http.get("/api/v1/cases", params={"q": query, "limit": 200}, headers=await driver.login("ayse"))
    assert r.status_code == 200, r.text
    return [c["case_id"] for c in r.json()["items"]]
