"""English left on translated pages (a tester's round in Turkish, French and Arabic): the case
page's key facts and history (the task, the stage, the actor's role, a correction's details, a
closure's reason), the case list's and the withdrawal's member counts, the consent withdrawal's
confirmation, the movement page's needs and fan-out step, and every title, heading and link text
of the figures page, rendered through the real stack in the page's language; names and ids as
they are; the API's JSON stays English.  And French says "référer" for a referral, never
"orienter" (orientation is the cultural orientation sessions)."""

from __future__ import annotations

from babel.messages.pofile import read_po

from api.routes.reports import REPORTS
from api.ui.i18n import LOCALES_DIR
from api.ui.reports import TITLES
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.test_movements import OFFICER, _case_in_movement_stage, _details, _fan_out_done, _ok, login_all


def _family() -> dict:
    return referral() | {"members": [member("Amina Haddad", "1987-05-12", "principal"),
                                     member("Omar Haddad", "2012-03-01", "child", sex="male")]}


async def _corrected_and_withdrawn(driver: CaseDriver) -> dict:
    """A case with a correction of the child's date of birth and then withdrawn (closed)."""
    case = await driver.refer(_family())
    child = case["members"][1]["member_id"]
    await _ok(driver, "POST", f"/api/v1/cases/{case['case_id']}/members/{child}/corrections", username="ayse",
              json={"changes": {"date_of_birth": "2012-03-04"}, "reason": "The birth certificate shows the 4th."})
    await _ok(driver, "POST", f"/api/v1/cases/{case['case_id']}/withdraw", username="ayse",
              json={"reason": "The family decided to stay."})
    return case


def _history(page: Page) -> str:
    """The history's entries, each detail as "label value"."""
    entries = page.elements[page.elements.index(page.one("ol", **{"class": "timeline"})):]
    return " ".join(Page.text(e) for e in entries
                    if e["tag"] in ("dt", "dd") or e.get("class") in ("timeline__title", "timeline__meta"))


async def test_the_case_page_with_a_correction_and_a_closure_in_french(stack: Stack, driver: CaseDriver) -> None:
    case = await _corrected_and_withdrawn(driver)
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "fr")
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        text, history = page.body_text, _history(page)
        facts = [Page.text(d) for d in page.find("dt")]
        assert "Destination" in facts or "Retour vers" in facts  # the key fact's label, through the catalog
        assert "Clos (retiré)" in text and "(withdrawn)" not in text
        for french in ("Vérifier la référence et les pièces d’identité",  # the task named in TaskOpened
                       "Étape Référence",  # the stage entered
                       "ayse (chargé de dossier)", "Modifications", "Valeurs précédentes",
                       "Date de naissance: 4 mars 2012", "Date de naissance: 1 mars 2012",
                       "Motif retiré", "Dossier référé"):
            assert french in history, (french, history[:3000])
        for english in ("Verify referral and identity documents", "(caseworker)", "Changes", "Previous",
                        "Date of birth", "Reason withdrawn", "Stage Referral", "Itinera (automatic)"):
            assert english not in history, (english, history[:3000])
        # names, ids and what was typed stay as they are
        assert "Amina Haddad" in text and case["case_id"] in text and "The family decided to stay." in history
        # the API's JSON stays English
        history_json = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}/history", username="ayse")
        assert "ayse (caseworker)" in str(history_json)

        listed = Page((await ayse.get(f"/ui/cases?q={case['case_id']}")).text).body_text
        assert "2 personnes" in listed and "2 people" not in listed


async def test_the_case_page_in_turkish_and_arabic(stack: Stack, driver: CaseDriver) -> None:
    case = await _corrected_and_withdrawn(driver)
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "tr")
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        history = _history(page)
        assert "Kapalı (geri çekildi)" in page.body_text and "(withdrawn)" not in page.body_text
        for turkish in ("ayse (dosya sorumlusu)", "Değişiklikler", "Doğum tarihi: ", "Gerekçe geri çekildi",
                        "Sevki ve kimlik belgelerini doğrula"):
            assert turkish in history, (turkish, history[:3000])
        assert "Gerekçe withdrawn" not in history and "Changes" not in history and "(caseworker)" not in history

        ayse.cookies.set("itinera_lang", "ar")
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        history = _history(page)
        assert "مغلق (مسحوب)" in page.body_text
        for arabic in ("ayse (مسؤول الحالة)", "التغييرات", "القيم السابقة", "تاريخ الميلاد: ", "المرحلة الإحالة"):
            assert arabic in history, (arabic, history[:3000])
        for english in ("Referral", "Changes", "Date of birth", "(caseworker)", "withdrawn"):
            assert english not in history, (english, history[:3000])


async def test_the_correction_form_and_the_withdrawal_confirmation_in_french(
        stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(_family())
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "fr")
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        assert [Page.text(o) for o in page.find("option") if "correction-field" in o["within"]] == [
            "Nom complet", "Date de naissance", "Sexe", "Nationalité", "Lien de parenté"]
        confirm = Page((await ayse.post(f"/ui/cases/{case['case_id']}/actions/withdraw", data={
            "csrf_token": page.csrf, "text": "La famille reste."})).text)
        lede = Page.text(confirm.one("p", **{"class": "lede"}))
        assert "2 personnes" in lede and "people" not in lede, lede


async def test_the_figures_page_in_french_and_turkish(stack: Stack, driver: CaseDriver) -> None:
    await driver.refer(_family())
    async with signed_in(stack, "fatma") as fatma:
        fatma.cookies.set("itinera_lang", "fr")
        page = Page((await fatma.get("/ui/reports")).text)
        headings = [Page.text(h) for h in page.find("h2")]
        assert "Dossiers par étape et par programme, à ce jour" in headings
        assert "Dossiers référés, départs, arrivées et clôtures par mois" in headings
        assert "Personnes par nationalité (chaque membre)" in headings
        text = page.body_text
        for french in ("Mois à partir du", "Dossiers référés", "Départs", "Arrivées", "Clôtures", "Nationalité",
                       "Origine", "Personnes parties : ", "Jours médians par étape et respect des délais",
                       ": afficher les dossiers"):
            assert french in text, french
        for english in (*REPORTS.values(), "Cases by stage and programme now", "Month from", "Referrals",
                        "Departures", "Closures", "People departed", "show the cases", "country of origin",
                        "People trained in orientation sessions"):
            assert english not in text, english

        fatma.cookies.set("itinera_lang", "tr")
        text = Page((await fatma.get("/ui/reports?period=week")).text).body_text
        assert "Haftalık sevkler, gidişler, varışlar ve kapanışlar" in text and "Hafta başlangıcı" in text
        assert "Referrals" not in text and "Week from" not in text

    # the API's JSON keeps its English titles
    listed = await _ok(driver, "GET", "/api/v1/reports", username="fatma")
    assert {r["title"] for r in listed} == set(REPORTS.values())


def test_every_title_a_report_gives_is_marked_for_the_catalogs() -> None:
    """The page says a report's title through the catalogs: each title api.reports gives is marked."""
    import inspect
    import re

    from api import reports

    source = inspect.getsource(reports)
    given = set(re.findall(r'Report\("[a-z-]+",\s*"([^"]+)"', source))
    given |= {title for _sql, _filter, title in reports._COUNTRY_KINDS.values()}
    given |= {f"Referrals, departures, arrivals and closures per {period}" for period in ("week", "month")}
    assert len(given) == len(TITLES) and given == set(TITLES), given ^ set(TITLES)


def test_french_says_referral_not_orientation() -> None:
    with (LOCALES_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="fr")
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and any("refer" in i.lower() for i in ids):
            assert not any("orient" in s.lower() for s in strings), (ids, strings)
    assert catalog.get("Refer a case").string == "Référer un dossier"
    assert catalog.get("Referred").string == "Référé"
    assert catalog.get("Orientation").string == "Orientation"


async def test_the_movement_page_says_needs_and_the_step_in_french(stack: Stack, driver: CaseDriver) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family())
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=4, flight_number="TL4411"))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    principal = case["members"][0]["member_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{case['case_id']}/members/{principal}/needs",
              json={"needs": ["wheelchair"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    async with signed_in(stack, OFFICER) as emre:
        emre.cookies.set("itinera_lang", "fr")
        text = Page((await emre.get(f"/ui/movements/{mid}")).text).body_text
        assert "Amina Haddad [Fauteuil roulant]" in text and "[Wheelchair]" not in text
        assert "Réservation: 1 dossier atteint" in text and "Booking:" not in text
        emre.cookies.set("itinera_lang", "ar")
        text = Page((await emre.get(f"/ui/movements/{mid}")).text).body_text
        assert "[كرسي متحرك]" in text and "الحجز:" in text and "Booking" not in text


async def test_a_moment_before_the_referral_is_said_in_the_page_s_language(stack: Stack, driver: CaseDriver) -> None:
    """explore11: ?as_of= before the referral answered a Turkish page with an English sentence."""
    from tests.support.factories import referral

    case = await driver.refer(referral(size=1))
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "fr")
        answer = await ayse.get(f"/ui/cases/{case['case_id']}", params={"as_of": "2020-01-01T00:00:00Z"})
        assert answer.status_code == 404
        text = Page(answer.text).body_text
        assert "n’avait pas encore été référé" in text and "had not been referred" not in text, text
