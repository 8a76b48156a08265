"""Demo cases for the embedded default: families and people as the work actually sees them,
in both offices, spread over every stage.  Seeded through the HTTP API like real work."""

from __future__ import annotations

from typing import Any

import httpx

from demo.driver import CaseDriver
from domain.model import Stage


def _m(name: str, dob: str, sex: str, nat: str, rel: str) -> dict[str, str]:
    return {"full_name": name, "date_of_birth": dob, "sex": sex, "nationality": nat, "relationship": rel}


def _case(ext: str, office: str, dest: str, priority: str, members: list[dict[str, str]]) -> dict[str, Any]:
    return {"programme": "resettlement", "office": office, "priority": priority, "destination_country": dest,
            "external_referral_id": ext, "members": members}


# (referral, stage to advance it to, indexes of members needing medical follow-up on arrival)
DEMO_CASES: list[tuple[dict[str, Any], Stage, set[int]]] = [
    # A mother and six children aged 4 to 16 who fled Aleppo, Istanbul to Norway; the
    # youngest needs medical follow-up on arrival.
    (_case("UNHCR-TUR-2026-004211", "IST", "NO", "urgent", [
        _m("Amina Haddad", "1987-05-12", "female", "SY", "principal"),
        _m("Yusuf Haddad", "2010-02-03", "male", "SY", "child"),
        _m("Layla Haddad", "2012-09-18", "female", "SY", "child"),
        _m("Omar Haddad", "2014-07-02", "male", "SY", "child"),
        _m("Huda Haddad", "2016-11-25", "female", "SY", "child"),
        _m("Karim Haddad", "2019-04-09", "male", "SY", "child"),
        _m("Nour Haddad", "2022-01-30", "female", "SY", "child"),
    ]), Stage.ORIENTATION, {6}),
    (_case("UNHCR-TUR-2026-004377", "IST", "SE", "normal", [
        _m("Ahmad Rahimi", "1979-03-21", "male", "AF", "principal"),
        _m("Zahra Rahimi", "1983-08-14", "female", "AF", "spouse"),
        _m("Mina Rahimi", "2011-12-01", "female", "AF", "child"),
    ]), Stage.REFERRAL, set()),
    (_case("UNHCR-TUR-2026-004402", "IST", "CA", "emergency", [
        _m("Rania Khalil", "1992-06-30", "female", "SY", "principal"),
        _m("Sami Khalil", "2018-10-10", "male", "SY", "child"),
    ]), Stage.HEALTH, set()),
    (_case("UNHCR-TUR-2026-004418", "IST", "DE", "normal", [
        _m("Hassan Al-Jabouri", "1970-01-15", "male", "IQ", "principal"),
        _m("Samira Al-Jabouri", "1974-04-04", "female", "IQ", "spouse"),
        _m("Fatima Al-Jabouri", "1945-09-09", "female", "IQ", "parent"),
    ]), Stage.VISA, set()),
    (_case("UNHCR-TUR-2026-004450", "IST", "FI", "normal", [
        _m("Dilan Ahmadi", "1995-02-02", "female", "IR", "principal"),
    ]), Stage.MOVEMENT, set()),
    (_case("UNHCR-TUR-2026-004469", "IST", "NL", "urgent", [
        _m("Mustafa Darwish", "1985-12-12", "male", "SY", "principal"),
        _m("Aya Darwish", "2015-03-03", "female", "SY", "child"),
    ]), Stage.ARRIVAL, set()),
    (_case("UNHCR-TUR-2026-004471", "IST", "NO", "normal", [
        _m("Khaled Mansour", "1990-07-07", "male", "SY", "principal"),
        _m("Reem Mansour", "1993-01-19", "female", "SY", "spouse"),
    ]), Stage.CLOSED, set()),
    (_case("UNHCR-TUR-2026-005102", "IZM", "US", "normal", [
        _m("Farid Noori", "1988-10-28", "male", "AF", "principal"),
        _m("Parwana Noori", "1990-05-05", "female", "AF", "spouse"),
        _m("Ali Noori", "2013-08-08", "male", "AF", "child"),
        _m("Sara Noori", "2017-02-14", "female", "AF", "child"),
    ]), Stage.INTERVIEW, set()),
    (_case("UNHCR-TUR-2026-005131", "IZM", "GB", "emergency", [
        _m("Mariam Youssef", "2001-11-11", "female", "SY", "principal"),
    ]), Stage.REFERRAL, set()),
    (_case("UNHCR-TUR-2026-005160", "IZM", "SE", "urgent", [
        _m("Abdullah Hamdan", "1976-06-06", "male", "SY", "principal"),
        _m("Lina Hamdan", "1980-09-21", "female", "SY", "spouse"),
        _m("Tarek Hamdan", "2009-12-24", "male", "SY", "child"),
    ]), Stage.ORIENTATION, {0}),
    (_case("UNHCR-TUR-2026-005188", "IZM", "DE", "normal", [
        _m("Shirin Karimi", "1999-03-08", "female", "IR", "principal"),
        _m("Darius Karimi", "2021-07-17", "male", "IR", "child"),
    ]), Stage.MOVEMENT, set()),
    (_case("UNHCR-TUR-2026-005203", "IZM", "CA", "normal", [
        _m("Jamal Othman", "1982-04-27", "male", "IQ", "principal"),
    ]), Stage.CLOSED, set()),
    (_case("UNHCR-TUR-2026-005217", "IZM", "NO", "normal", [
        _m("Hevin Ali", "1994-08-30", "female", "SY", "principal"),
        _m("Rojda Ali", "2016-05-15", "female", "SY", "child"),
    ]), Stage.VISA, set()),
]


async def seed_demo_cases(client: httpx.AsyncClient) -> int:
    """Refer every demo case and work it to its stage; skips cases already there."""
    driver = CaseDriver(client)
    for referral, stage, follow_up in DEMO_CASES:
        case = await driver.refer(referral, username="ayse" if referral["office"] == "IST" else "mehmet")
        await driver.advance(case, stage, follow_up_members=follow_up)
    return len(DEMO_CASES)
