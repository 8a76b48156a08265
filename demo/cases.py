"""Demo cases for the embedded default: families and people as the work actually sees them,
in both offices, spread over every stage, resettlement, AVRR and family reunification (two
families joining a sponsor in Germany).  Seeded through the HTTP API like real work."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from case_client import CaseClient
from demo.driver import demo_client
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
    ]), Stage.MOVEMENT, set()),  # then: booked on a flight three hours away, checked fit (_situations)
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
    # Ireland's demo profile (migration 0039): the destination screens health itself, so the
    # case goes from interview straight to orientation.
    (_case("UNHCR-TUR-2026-005231", "IST", "IE", "normal", [
        _m("Nadia Sulaiman", "1990-10-02", "female", "SY", "principal"),
        _m("Ziad Sulaiman", "2013-01-19", "male", "SY", "child"),
    ]), Stage.ORIENTATION, set()),
]


@dataclass(frozen=True)
class Return:
    """Where an AVRR case returns to and in which language it is worked."""

    language: str
    consulate: str
    airport: str
    place: str
    partner: str
    plan: list[dict[str, Any]] = field(default_factory=list)

    def forms(self, today: date, consent_by: str, screening: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        day = today.isoformat()
        number = zlib.crc32(consent_by.encode())  # stable references for one person
        return {
            "record_counselling": {"session_date": day, "language": self.language, "options_explained": True},
            "record_consent": {"given_by": consent_by, "given_on": day, "language": self.language,
                               "signed_form_reference": f"AVRR-TR-{number % 100000:05d}"},
            "screen_vulnerability": {"screened_on": day, **(screening or {})},
            "record_predeparture_counselling": {"session_date": day, "language": self.language,
                                                "reintegration_support_explained": True},
            "record_travel_document": {"outcome": "issued", "document_type": "laissez_passer",
                                       "document_number": f"LP-{number % 10**8:08d}",
                                       "issuing_consulate": self.consulate, "issued_on": day,
                                       "valid_until": (today + timedelta(days=90)).isoformat()},
            "book_movement": {"flight_number": "TK1102", "departure_at": f"{(today + timedelta(days=1)).isoformat()}T12:00:00+00:00",
                              "departure_airport": "IST", "arrival_airport": self.airport},
            "reconfirm_consent": {"reconfirmed_on": day, "language": self.language, "consent_reconfirmed": True},
            "confirm_arrival": {"arrived_on": day, "place": self.place, "receiving_partner": self.partner},
        } | ({"record_reintegration_plan": {"agreed_on": day, "partner": self.partner, "items": self.plan}}
             if self.plan else {})


def _avrr(ext: str, office: str, origin: str, priority: str, members: list[dict[str, str]]) -> dict[str, Any]:
    return {"programme": "avrr", "office": office, "priority": priority, "origin_country": origin,
            "external_referral_id": ext, "members": members}


ERBIL = Return("ku", "Consulate General of Iraq, Istanbul", "EBL", "Erbil", "IOM Iraq, Erbil")
BAGHDAD = Return("ar", "Consulate General of Iraq, Istanbul", "BGW", "Baghdad", "IOM Iraq, Baghdad")
LAHORE = Return("ur", "Consulate General of Pakistan, Istanbul", "LHE", "Lahore", "IOM Pakistan, Lahore", plan=[
    {"kind": "economic", "description": "In-kind grant: auto-rickshaw for a transport business", "amount": "1800.00",
     "currency": "USD"},
    {"kind": "social", "description": "Enrolment of the children in the local school"},
    {"kind": "psychosocial", "description": "Four counselling sessions with the partner's psychologist"},
])
TASHKENT = Return("uz", "Consulate General of Uzbekistan, Istanbul", "TAS", "Tashkent",
                  "IOM Uzbekistan, Tashkent")
CASABLANCA = Return("ar", "Consulate General of Morocco, Istanbul", "CMN", "Casablanca", "IOM Morocco, Rabat")
ALGIERS = Return("ar", "Consulate General of Algeria, Istanbul", "ALG", "Algiers", "IOM Algeria, Algiers")
DHAKA = Return("bn", "Consulate General of Bangladesh, Istanbul", "DAC", "Dhaka", "IOM Bangladesh, Dhaka")


@dataclass(frozen=True)
class AvrrDemo:
    referral: dict[str, Any]
    stage: Stage
    going_to: Return
    consent_by: str
    screening: dict[str, Any] | None = None
    delivered_items: int = 0  # in reintegration: how many plan items are delivered already
    consent_withdrawn: str | None = None  # the reason, for a case closed by a withdrawal of consent


AVRR_DEMO_CASES: list[AvrrDemo] = [
    # A single man returning home to Erbil after counselling: consent given, eligibility next.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0142", "IST", "IQ", "normal", [
        _m("Karwan Aziz", "1991-02-17", "male", "IQ", "principal"),
    ]), Stage.INTERVIEW, ERBIL, "Karwan Aziz"),
    # A family of four going back to Lahore, waiting for the consulate's travel documents.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0157", "IST", "PK", "normal", [
        _m("Imran Qureshi", "1984-06-03", "male", "PK", "principal"),
        _m("Saima Qureshi", "1988-11-21", "female", "PK", "spouse"),
        _m("Hamza Qureshi", "2013-04-09", "male", "PK", "child"),
        _m("Ayesha Qureshi", "2017-08-30", "female", "PK", "child"),
    ]), Stage.VISA, LAHORE, "Imran Qureshi"),
    # Back in Lahore: the reintegration plan agreed, the first item delivered.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0098", "IST", "PK", "normal", [
        _m("Tariq Mahmood", "1979-12-05", "male", "PK", "principal"),
    ]), Stage.REINTEGRATION, LAHORE, "Tariq Mahmood", delivered_items=1),
    # A survivor of trafficking: screening made the case an emergency with an escort.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0163", "IST", "UZ", "normal", [
        _m("Dilnoza Yusupova", "1996-03-28", "female", "UZ", "principal"),
    ]), Stage.MOVEMENT, TASHKENT, "Dilnoza Yusupova",
        screening={"victim_of_trafficking": True, "escort_required": True,
                   "notes": "Referred by the counter-trafficking unit; returns with a social worker."}),
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0311", "IZM", "MA", "normal", [
        _m("Youssef El Amrani", "1998-07-14", "male", "MA", "principal"),
    ]), Stage.REFERRAL, CASABLANCA, "Youssef El Amrani"),
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0318", "IZM", "DZ", "normal", [
        _m("Karim Benali", "1993-01-09", "male", "DZ", "principal"),
    ]), Stage.HEALTH, ALGIERS, "Karim Benali"),
    # Medical needs found at screening raised the case to urgent.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0322", "IZM", "BD", "normal", [
        _m("Rahim Uddin", "1987-10-02", "male", "BD", "principal"),
    ]), Stage.ORIENTATION, DHAKA, "Rahim Uddin",
        screening={"medical_needs": True, "notes": "Diabetic; needs his medication for the journey."}),
    # A family from Mosul landed in Baghdad; the receiving office has yet to confirm.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0327", "IZM", "IQ", "normal", [
        _m("Ahmed Saleh", "1982-05-19", "male", "IQ", "principal"),
        _m("Noor Saleh", "1986-02-11", "female", "IQ", "spouse"),
        _m("Zainab Saleh", "2012-12-01", "female", "IQ", "child"),
    ]), Stage.ARRIVAL, BAGHDAD, "Ahmed Saleh"),
    # Found eligible, he changed his mind before the fit-to-travel check: consent withdrawn, case closed.
    AvrrDemo(_avrr("IOM-TUR-AVRR-2026-0333", "IZM", "MA", "normal", [
        _m("Hamid Tazi", "1995-09-23", "male", "MA", "principal"),
    ]), Stage.HEALTH, CASABLANCA, "Hamid Tazi", consent_withdrawn="Found work in Izmir and decided to stay."),
]


@dataclass(frozen=True)
class FamilyDemo:
    """A family joining its sponsor: worked through the document checklists, then (``book``)
    the embassy appointment is booked; ``missing`` names a member's documents not in yet."""

    referral: dict[str, Any]
    book: bool = False
    missing: dict[str, list[str]] = field(default_factory=dict)


def _family(ext: str, office: str, sponsor: dict[str, str], members: list[dict[str, str]]) -> dict[str, Any]:
    return {"programme": "family_reunification", "office": office, "priority": "normal", "destination_country": "DE",
            "external_referral_id": ext, "sponsor": sponsor, "members": members}


FAMILY_DEMO_CASES: list[FamilyDemo] = [
    # Lina and her two children, in Beirut, join Yusuf Haddad, under subsidiary protection in
    # Berlin: every document is in and the appointment at the German Embassy is booked.
    FamilyDemo(_family("IOM-FAP-2026-0311", "IST", {
        "full_name": "Yusuf Haddad", "protection_status": "subsidiary_protection",
        "residence_permit": "DE-BER-AT-2025-118402", "city": "Berlin", "contact": "+49 30 1234567"}, [
        _m("Lina Haddad", "1990-04-02", "female", "SY", "spouse"),
        _m("Sami Haddad", "2016-09-21", "male", "SY", "child"),
        _m("Reem Haddad", "2019-12-11", "female", "SY", "child"),
    ]), book=True),
    # The parents of Ahmad Karimi, 16, recognised as a refugee in Hamburg after arriving alone:
    # his father's proof of the relationship (the family register) is still missing, so the
    # appointment cannot be booked yet.
    FamilyDemo(_family("IOM-FAP-2026-0342", "IST", {
        "full_name": "Ahmad Karimi", "date_of_birth": "2010-05-04", "protection_status": "refugee",
        "residence_permit": "DE-HH-AE-2025-440187", "city": "Hamburg",
        "contact": "Jugendamt Hamburg-Mitte, guardian Petra Lange, +49 40 4283 0"}, [
        _m("Mahmoud Karimi", "1978-08-19", "male", "AF", "parent"),
        _m("Zahra Karimi", "1982-01-07", "female", "AF", "parent"),
    ]), missing={"Mahmoud Karimi": ["proof_of_relationship"]}),
]


async def seed_family_demo(driver: CaseClient, demo: FamilyDemo) -> dict[str, Any]:
    """Refer one family reunification demo case and work it to its appointment stage."""
    office = demo.referral["office"]
    case = await driver.refer(demo.referral, username="ayse" if office == "IST" else "mehmet")
    case = await driver.advance(case, Stage.DOCUMENTS)
    today = datetime.now(UTC).date()
    names = {m["member_id"]: m["full_name"] for m in case["members"]}
    for task in [t for t in case["open_tasks"] if t["task_type"] == "record_documents"]:
        missing = demo.missing.get(names[task["member_id"]], [])
        case = await driver.complete(task, office, form={"received_on": today.isoformat(), **{
            item: item not in missing for item in ("passport", "civil_documents", "proof_of_relationship")}})
    book = next((t for t in case["open_tasks"] if t["task_type"] == "book_embassy_appointment"), None)
    if demo.book and book is not None and not demo.missing:
        at = datetime.combine(today + timedelta(days=12), datetime.min.time().replace(hour=7, minute=30), tzinfo=UTC)
        case = await driver.complete(book, office, form={"appointment_at": at.isoformat(),
                                                         "place": "German Embassy Beirut",
                                                         "reference": f"DE-BEY-{demo.referral['external_referral_id'][-4:]}"})
    return case


async def seed_demo_cases(client: httpx.AsyncClient) -> int:
    """Refer every demo case and work it to its stage; skips cases already there."""
    driver = demo_client(client)
    for referral, stage, follow_up in DEMO_CASES:
        case = await driver.refer(referral, username="ayse" if referral["office"] == "IST" else "mehmet")
        await driver.advance(case, stage, follow_up_members=follow_up)
    for demo in AVRR_DEMO_CASES:
        await seed_avrr_demo(driver, demo)
    for family in FAMILY_DEMO_CASES:
        await seed_family_demo(driver, family)
    await _situations(driver)
    await _orientation_session(driver)
    return len(DEMO_CASES) + len(AVRR_DEMO_CASES) + len(FAMILY_DEMO_CASES)


async def _situations(driver: CaseClient) -> None:
    """What real work has besides progress: a case on hold, a family about to fly.  (No task of
    the demo is overdue when it is seeded: an escalation needs time to pass.)"""
    headers = await driver.login("fatma")
    held = (await driver.client.get("/api/v1/cases", params={"q": "UNHCR-TUR-2026-004418"}, headers=headers)).json()
    for case in held["items"]:
        r = await driver.client.post(f"/api/v1/cases/{case['case_id']}/hold", headers=headers,
                                     json={"reason": "Awaiting the outcome of a family reunification request."})
        r.raise_for_status()
    # The Darwish family flies to Amsterdam in three hours: booked, every member checked fit to
    # travel this morning; the movement officer records the departure once they have boarded.
    found = (await driver.client.get("/api/v1/cases", params={"q": "UNHCR-TUR-2026-004469"}, headers=headers)).json()
    for summary in found["items"]:
        case = (await driver.client.get(f"/api/v1/cases/{summary['case_id']}", headers=headers)).json()
        if case["stage"] == "movement":
            await fly_in_three_hours(driver, case)


async def fly_in_three_hours(driver: CaseClient, case: dict[str, Any]) -> dict[str, Any]:
    """Book a case in the movement stage on a flight three hours away and check every member
    fit to travel now.  Its checks open due an hour later (a check's due, six hours before the
    flight, is already past: ``domain.engine.flow.reachable_due``), so no escalation opens."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Their DGMM exit permission is in hand (Türkiye requires one to leave).
    for task in [t for t in case["open_tasks"] if t["task_type"] == "record_host_exit_permission"]:
        case = await driver.complete(task, "IST")
    book = next(t for t in case["open_tasks"] if t["task_type"] == "book_movement")
    case = await driver.complete(book, "IST", form={
        "flight_number": "KL1960", "departure_at": (now + timedelta(hours=3)).isoformat(),
        "departure_airport": "IST", "arrival_airport": "AMS"})
    for task in [t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        case = await driver.complete(task, "IST", form={"checked_at": now.isoformat(), "outcome": "fit"})
    return case


async def seed_avrr_demo(driver: CaseClient, demo: AvrrDemo) -> dict[str, Any]:
    """Refer one AVRR demo case and work it to its stage; answers the case as it then stands."""
    office = demo.referral["office"]
    caseworker = "ayse" if office == "IST" else "mehmet"
    case = await driver.refer(demo.referral, username=caseworker)
    forms = demo.going_to.forms(datetime.now(UTC).date(), demo.consent_by, demo.screening)
    case = await driver.advance(case, demo.stage, forms=forms)
    if demo.stage == Stage.REINTEGRATION:
        for _ in range(demo.delivered_items + 1):  # the plan, then the deliveries
            plan = case["avrr"]["reintegration_plan"]
            task = next((t for t in case["open_tasks"] if t["task_type"] in
                         ("record_reintegration_plan", "record_assistance_delivery")), None)
            if task is None or sum(i["delivered_on"] is not None for i in plan) >= demo.delivered_items:
                break
            case = await driver.complete(task, office, form=forms.get(task["task_type"]), case=case)
    if demo.consent_withdrawn and case["status"] != "closed":
        case = await driver.withdraw_consent(case, demo.consent_by, demo.going_to.language, demo.consent_withdrawn,
                                             username=caseworker)
    return case


async def _orientation_session(driver: CaseClient) -> None:
    """Issue 15: next Tuesday's Arabic orientation session for Norway in Istanbul, with the people
    the system proposes (the Haddad family's members aged 12 and over).  The same scheduling
    again (its Idempotency-Key) is the same session; people on it already are not proposed."""
    headers = await driver.login("ayse")
    today = datetime.now(UTC).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    r = await driver.client.post("/api/v1/orientation-sessions", headers=headers | {
        "Idempotency-Key": f"demo-orientation-{day.isoformat()}"}, json={
        "starts_at": f"{day.isoformat()}T10:00:00+03:00", "mode": "in_person", "language": "ar",
        "place": "IOM Istanbul, Harbiye, training room 2", "destination_country": "NO", "capacity": 25,
        "facilitator": "Leyla Osman", "office": "IST"})
    r.raise_for_status()
    session_id = r.json()["session_id"]
    proposed = (await driver.client.get(f"/api/v1/orientation-sessions/{session_id}/proposals",
                                        headers=headers)).json()["items"]
    if proposed:
        (await driver.client.post(f"/api/v1/orientation-sessions/{session_id}/participants", headers=headers, json={
            "participants": [{"case_id": p["case_id"], "member_id": p["member_id"]} for p in proposed]})
         ).raise_for_status()
