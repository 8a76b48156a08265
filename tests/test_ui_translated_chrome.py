"""The chrome around the data in the user's language (explore 7, section 7): pages rendered
with ``itinera_lang`` fr/tr/ar through the real stack say the domain's words (stages,
programmes, relationships, statuses, history events, audit outcomes), the task status and the
screen-reader text of the task buttons, and the completion flash, in that language - and not
in English."""

from __future__ import annotations

import httpx

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack


def _family() -> dict:
    return referral() | {"members": [member("Amina Haddad", "1987-05-12", "principal"),
                                     member("Omar Haddad", "2012-03-01", "child", sex="male")]}


async def test_french_task_page_case_page_and_completion_flash(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(_family())
    verify = case["open_tasks"][0]
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "fr")
        page = Page((await ayse.get(f"/ui/tasks/{verify['task_id']}")).text)
        text = page.body_text
        assert "Ouverte · non attribuée" in text and "Ouvrir ·" not in text  # the status, not the button
        assert "Référence" in text  # the stage Referral
        hidden = [Page.text(s) for s in page.find("span", **{"class": "visually-hidden"}) if "tâche" in Page.text(s)]
        assert hidden == ["la tâche Vérifier la référence et les pièces d’identité"], hidden

        claimed = await ayse.post(f"/ui/tasks/{verify['task_id']}/claim", data={"csrf_token": page.csrf})
        page = Page(claimed.text)
        assert "Ouverte · prise par vous" in page.body_text
        assert Page.text(page.one("h1")).startswith("Vérifier la référence et les pièces d’identité")
        done = await ayse.post(f"/ui/tasks/{verify['task_id']}", data={
            "csrf_token": page.csrf, "documents_checked": "true", "notes": "Passports seen."})
        assert done.url.path == f"/ui/cases/{case['case_id']}"
        notice = Page.text(Page(done.text).one("div", role="status"))
        assert notice == ("« Vérifier la référence et les pièces d’identité » terminée. "
                          "Le dossier est maintenant à l’étape Entretien."), notice

        text = Page((await ayse.get(done.url.path)).text).body_text
        for french in ("Entretien", "Réinstallation", "Demandeur principal", "Enfant", "En attente",
                       "Tâche ouverte", "Dossier référé", "Entrée dans l’étape", "Référence vérifiée"):
            assert french in text, french
        for english in ("Task opened", "Case referred", "Stage entered", "Principal", "Pending", "Resettlement"):
            assert english not in text, english


async def test_turkish_and_arabic_inbox_cases_and_audit(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(_family())
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "tr")
        inbox = Page((await ayse.get("/ui")).text)
        text = inbox.body_text
        assert "Sevk" in text or "Başvuru" in text
        hidden = [Page.text(s) for s in inbox.find("span", **{"class": "visually-hidden"})]
        assert any(h.startswith("görev: ") for h in hidden) and not any(h.startswith("task ") for h in hidden), hidden
        listed = Page((await ayse.get(f"/ui/cases?q={case['case_id']}")).text).body_text
        assert "Referral" not in listed
    async with signed_in(stack, "fatma") as fatma:
        fatma.cookies.set("itinera_lang", "ar")
        audit = Page((await fatma.get("/ui/audit")).text)
        assert [text for _value, text in _option_texts(audit, "audit-outcome")][1:] == ["مسموح", "مرفوض", "فشل"]
        assert "مسموح" in audit.body_text and "Allowed" not in audit.body_text


def _option_texts(page: Page, select_id: str) -> list[tuple[str, str]]:
    return [(o.get("value", ""), Page.text(o)) for o in page.find("option") if select_id in o.get("within", "")]


async def test_sessions_movements_and_figures_pages_in_french_arabic_turkish(stack: Stack, driver: CaseDriver) -> None:
    import secrets
    from datetime import datetime, timedelta

    from tests.test_ui_movements import OFFICER, _departs, _flight
    from tests.test_ui_movements import _typed as movement_typed
    from tests.test_ui_orientation_sessions import ISTANBUL
    from tests.test_ui_orientation_sessions import _typed as session_typed
    from tests.test_ui_referral import _posted

    facilitator = "Leyla " + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)).title()
    starts = (datetime.now(ISTANBUL) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    async with signed_in(stack, "ayse") as ayse:
        ayse.cookies.set("itinera_lang", "fr")
        listed = Page((await ayse.get("/ui/orientation-sessions")).text)
        assert Page.text(listed.one("h1")) == "Séances d’orientation"
        scheduled = await ayse.post("/ui/orientation-sessions", data=_posted(listed) | session_typed(facilitator, starts))
        assert scheduled.url.path.startswith("/ui/orientation-sessions/OS-"), scheduled.text
        text = Page(scheduled.text).body_text
        for french in ("Séances d’orientation", "animateur " + facilitator, "Planifiée", "Ajouter des personnes",
                       "Annuler la séance", "Personne dans la séance pour l’instant.", "Feuille de présence à imprimer"):
            assert french in text, french
        for english in ("facilitator", "Scheduled", "Add people", "Cancel the session", "Nobody on the session yet"):
            assert english not in text, english

    async with signed_in(stack, OFFICER) as emre:
        emre.cookies.set("itinera_lang", "ar")
        page = Page((await emre.get("/ui/movements")).text)
        assert Page.text(page.one("h1")) == "رحلات المجموعات"
        created = await emre.post("/ui/movements", data=_posted(page) | movement_typed(_flight(), _departs()))
        assert created.url.path.startswith("/ui/movements/"), created.text
        text = Page(created.text).body_text
        for arabic in ("مفتوحة للملفات", "رحلة مستأجرة", "قائمة الركاب", "لا ملفات في قائمة الركاب بعد.", "تأجيل الرحلة"):
            assert arabic in text, arabic
        for english in ("Open", "Charter", "Manifest", "No case on the manifest yet", "Delay the flight"):
            assert english not in text, english

    async with signed_in(stack, "fatma") as fatma:
        fatma.cookies.set("itinera_lang", "tr")
        text = Page((await fatma.get("/ui/reports")).text).body_text
        assert "dosyaların durumu" in text and "where cases stand" not in text


async def test_the_reassign_flash_and_its_refusal_in_turkish(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(_family())
    task_id = case["open_tasks"][0]["task_id"]
    async with signed_in(stack, "fatma") as fatma:
        fatma.cookies.set("itinera_lang", "tr")
        page = Page((await fatma.get(f"/ui/tasks/{task_id}")).text)
        refused = Page((await fatma.post(f"/ui/tasks/{task_id}/reassign", data={
            "csrf_token": page.csrf, "assignee": "Not A Name!", "reason": ""})).text)
        assert "kullanıcı adını" in refused.body_text and "Give the username" not in refused.body_text
        moved = Page((await fatma.post(f"/ui/tasks/{task_id}/reassign", data={
            "csrf_token": refused.csrf, "assignee": "ayse", "reason": "Aileyi tanıyor."})).text)
        notice = Page.text(moved.one("div", role="status"))
        assert notice == "“Sevki ve kimlik belgelerini doğrula” artık ayse kullanıcısında.", notice


# --- section 8: no validator or machine text on a page ------------------------------------------


async def test_a_refused_address_is_a_page_in_plain_words(stack: Stack) -> None:
    async with signed_in(stack, "fatma") as fatma:
        fatma.cookies.set("itinera_lang", "fr")
        nul = await fatma.get("/ui/audit?user=%00")
        assert nul.status_code == 422 and nul.headers["content-type"].startswith("text/html"), nul.text[:300]
        assert "L’adresse contient une valeur que cette page n’accepte pas." in Page(nul.text).body_text
        missing = Page((await fatma.get("/ui/no-such-page")).text).body_text
        assert "Il n’y a pas de page à cette adresse." in missing and "There is no page" not in missing
        fatma.cookies.set("itinera_lang", "en")
        day = Page((await fatma.get("/ui/reports?from=2026-02-29")).text).body_text
        assert "“2026-02-29” is not a valid date" in day and "Input should be" not in day, day[-600:]
        stage = Page((await fatma.get("/ui/cases?stage=bogus")).text).body_text
        assert "“bogus” is not one of the values allowed here: referral" in stage and "Input should be" not in stage


async def test_movement_refusals_in_plain_words_and_a_typed_case_id_upper_cased(stack: Stack, driver: CaseDriver) -> None:
    from tests.test_ui_movements import OFFICER, _departs, _flight
    from tests.test_ui_movements import _typed as movement_typed
    from tests.test_ui_referral import _posted

    case = await driver.refer(_family())  # not in its movement stage: it cannot join
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get("/ui/movements")).text)
        created = await emre.post("/ui/movements", data=_posted(page) | movement_typed(_flight(), _departs()))
        here = created.url.path
        page = Page(created.text)
        delayed = Page((await emre.post(f"{here}/delay", data={
            "csrf_token": page.csrf, "departure_at": "2026-12-11T25:00", "reason": "crew rest"})).text)
        said = delayed.body_text
        assert "Departure at: “2026-12-11T25:00” is not a valid date and time." in said, said[:1500]
        assert "Input should be" not in said
        added = Page((await emre.post(f"{here}/add", data={"csrf_token": delayed.csrf,
                                                             "case_id": case["case_id"].lower()})).text)
        said = Page.text(added.one("div", role="alert"))
        assert case["case_id"] in said and case["case_id"].lower() not in said, said
        assert said.count(case["case_id"]) <= 2, said  # said once, not repeated in brackets


async def test_the_referral_forms_sponsor_is_one_group_with_plain_labels(stack: Stack) -> None:
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get("/ui/refer")).text)
        label = next(Page.text(e) for e in page.find("label") if e.get("for") == "field-sponsor-0-protection_status")
        assert label.startswith("Protection status") and "ProtectionStatus" not in page.body_text, label
        refused = await ayse.post("/ui/refer", data=_posted_refer(page))
        assert refused.status_code == 422
        text = Page(refused.text).body_text
        assert "Sponsor:" in text and "Sponsor 1" not in text, text[:3000]


def _posted_refer(page: Page) -> dict[str, str]:
    from tests.test_ui_referral import _posted

    return _posted(page) | {
        "external_referral_id": "FAP-UI-CHROME-1", "programme": "family_reunification", "destination_country": "DE",
        "members-0-full_name": "Lina Haddad", "members-0-date_of_birth": "1991-03-02", "members-0-sex": "female",
        "members-0-nationality": "SY", "members-0-relationship": "spouse", "sponsor-0-full_name": "Yusuf Haddad",
        "sponsor-0-protection_status": "refugee", "sponsor-0-city": "Berlin"}


# --- section 9: times in the office's zone -------------------------------------------------------


async def test_audit_rows_without_an_office_are_in_the_supervisors_zone(stack: Stack) -> None:
    async with signed_in(stack, "fatma") as fatma:
        await fatma.get("/ui/reports")  # a report: a row without an office
        page = Page((await fatma.get("/ui/audit")).text)
        times = [Page.text(t) for t in page.find("time")]
        assert times and all(t.endswith("(Istanbul)") for t in times), times[:10]


async def test_a_task_completed_already_names_the_time_on_the_offices_clock(stack: Stack, driver: CaseDriver) -> None:
    """The workflow's refusal (reached when a completion races past the API's own check) says
    when the task was completed as the office's clock read it, not an ISO instant in UTC."""
    import re

    import pytest

    from api.commands import CaseCommands
    from api.errors import ApiError
    from domain.model import Actor

    case = await driver.refer(_family())
    task = case["open_tasks"][0]
    await driver.complete(task, "IST")
    commands = CaseCommands(stack.temporal, stack.settings.temporal_task_queue)
    with pytest.raises(ApiError) as refused:
        await commands.complete_task(case["case_id"], task["task_id"], {"documents_checked": True},
                                     Actor(id="ayse", role="caseworker"))
    message = refused.value.message
    assert (refused.value.status, refused.value.code) == (409, "task_not_open")
    assert re.search(r"is already completed \(by \w+ at \d{4}-\d\d-\d\d \d\d:\d\d Istanbul time\)", message), message
    assert "+00:00" not in message


async def test_the_referral_forms_country_and_language_lists_are_named_in_the_pages_language(stack: Stack) -> None:
    """The README says the lists' names come from CLDR "in every language the UI speaks"; they
    were English on Arabic and Turkish pages (explore 7, section 7)."""
    async with signed_in(stack, "ayse") as ayse:
        english = (await ayse.get("/ui/refer")).text
        ayse.cookies.set("itinera_lang", "ar")
        arabic = (await ayse.get("/ui/refer")).text
        ayse.cookies.set("itinera_lang", "tr")
        turkish = (await ayse.get("/ui/refer")).text
    assert ">Syria<" in english and ">سوريا<" in arabic and ">Suriye<" in turkish
    assert ">Syria<" not in arabic


def test_every_event_a_history_shows_has_its_title_in_every_language() -> None:
    """The case page's history titles each event by its type (explore8 #5: 'Travel document
    issued', 'Visa issued' and others stayed English on tr/fr/ar pages)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    import domain.programmes  # noqa: F401  (every programme's events registered)
    from api.ui.formatting import event_title
    from api.ui.i18n import LANGUAGES
    from domain.events import event_types

    titles = {event_title(t) for t in event_types()}
    for language in set(LANGUAGES) - {"en"}:
        with open(Path(__file__).parents[1] / "api" / "locales" / language / "LC_MESSAGES" / "messages.po", "rb") as po:
            translated = {m.id for m in read_po(po) if m.string}
        assert titles <= translated, (language, sorted(titles - translated))
