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
        assert "Orientation" in text  # the stage Referral
        hidden = [Page.text(s) for s in page.find("span", **{"class": "visually-hidden"}) if "tâche" in Page.text(s)]
        assert hidden == ["la tâche Verify referral and identity documents"], hidden

        claimed = await ayse.post(f"/ui/tasks/{verify['task_id']}/claim", data={"csrf_token": page.csrf})
        page = Page(claimed.text)
        assert "Ouverte · prise par vous" in page.body_text
        done = await ayse.post(f"/ui/tasks/{verify['task_id']}", data={
            "csrf_token": page.csrf, "documents_checked": "true", "notes": "Passports seen."})
        assert done.url.path == f"/ui/cases/{case['case_id']}"
        notice = Page.text(Page(done.text).one("div", role="status"))
        assert notice == ("« Verify referral and identity documents » terminée. "
                          "Le dossier est maintenant à l’étape Entretien."), notice

        text = Page((await ayse.get(done.url.path)).text).body_text
        for french in ("Entretien", "Réinstallation", "Demandeur principal", "Enfant", "En attente",
                       "Tâche ouverte", "Dossier orienté", "Entrée dans l’étape", "Orientation vérifiée"):
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
        assert notice == "“Verify referral and identity documents” artık ayse kullanıcısında.", notice
