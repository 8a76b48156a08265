"""The UI in the user's language (issue 17): English, Turkish, French and Arabic (right to left), chosen
from the language menu and remembered; the catalogs cover every message the code marks."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from api.ui.i18n import LANGUAGES, LOCALES_DIR
from tests.support.browser import signed_in
from tests.support.pages import Page
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _marked() -> set[str]:
    """Every message the UI's code and templates mark, as ``pybabel extract`` finds them."""
    method_map = [("api/ui/**.py", "python"), ("api/templates/**.html", "jinja2")]
    options = {"api/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    found = extract_from_dir(str(ROOT), method_map, options, keywords={"_": None, "gettext": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def test_every_marked_message_is_translated_with_the_same_placeholders() -> None:
    marked = _marked()
    assert {"Inbox", "Refer a case", "Please fill this in.", "Dashboard"} <= marked
    for language in LANGUAGES:
        if language == "en":
            continue
        with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
            catalog = read_po(source, locale=language)
        translated = {m.id: m.string for m in catalog if m.id and m.string}
        missing = sorted(marked - translated.keys())
        assert not missing, f"{language}: not translated: {missing}"
        for msgid in marked:
            assert set(PLACEHOLDER.findall(translated[msgid])) == set(PLACEHOLDER.findall(msgid)), (language, msgid)


async def test_the_language_menu_switches_the_chrome_and_is_remembered(stack: Stack) -> None:
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get("/ui/dashboard")).text)
        html = page.one("html")
        assert (html["lang"], html["dir"]) == ("en", "ltr")
        assert [v for v, _ in page.options("language-menu")] == ["en", "tr", "fr", "ar"]

        arabic = await ayse.post("/ui/language", data={"csrf_token": page.csrf, "lang": "ar", "next": "/ui/dashboard"})
        assert arabic.url.path == "/ui/dashboard"
        page = Page(arabic.text)
        assert (page.one("html")["lang"], page.one("html")["dir"]) == ("ar", "rtl")
        nav = [Page.text(a) for a in page.find("a") if "language-menu" not in a["within"]]
        assert "صندوق الوارد" in nav and "لوحة المعلومات" in nav  # Inbox, Dashboard
        assert Page.text(page.one("h1")) == "لوحة المعلومات"
        assert ("ar", True) in page.options("language-menu")
        # remembered: the next page (another one) is Arabic too, error pages included
        again = Page((await ayse.get("/ui/refer")).text)
        assert again.one("html")["dir"] == "rtl" and Page.text(again.one("h1")) == "إحالة ملف"
        missing = Page((await ayse.get("/ui/no-such-page")).text)
        assert Page.text(missing.one("h1")) == "غير موجود"

        turkish = Page((await ayse.post("/ui/language", data={"csrf_token": page.csrf, "lang": "tr",
                                                                "next": "/ui/cases"})).text)
        assert (turkish.one("html")["lang"], turkish.one("html")["dir"]) == ("tr", "ltr")
        assert Page.text(turkish.one("h1")) == "Dosyalar"  # Cases

        french = Page((await ayse.post("/ui/language", data={"csrf_token": page.csrf, "lang": "fr",
                                                               "next": "/ui/refer"})).text)
        assert (french.one("html")["lang"], french.one("html")["dir"]) == ("fr", "ltr")
        assert Page.text(french.one("h1")) == "Référer un dossier"
        # a form's errors in the chosen language
        refused = Page((await ayse.post("/ui/refer", data={"csrf_token": french.csrf, "programme": "resettlement",
                                                           "office": "IST", "members-0-_row": "1"})).text)
        assert refused.field_error("members-0-full_name").endswith("Veuillez remplir ce champ.")

        # an unknown language is ignored; the choice stays
        odd = await ayse.post("/ui/language", data={"csrf_token": page.csrf, "lang": "xx",
                                                     "next": "https://elsewhere.example/"})
        assert odd.url.path == "/ui" and str(odd.url).startswith(stack.base_url)  # never away from the UI
        assert Page(odd.text).one("html")["lang"] == "fr"


async def test_the_login_page_has_the_menu_and_follows_the_browser(stack: Stack) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=True, timeout=60,
                                 headers={"Accept-Language": "ar-SA,ar;q=0.9,en;q=0.5"}) as browser:
        page = Page((await browser.get("/ui/login")).text)
        assert page.one("html")["dir"] == "rtl" and Page.text(page.one("h1")) == "تسجيل الدخول إلى Itinera"
        english = Page((await browser.post("/ui/language", data={"csrf_token": page.csrf, "lang": "en",
                                                                  "next": "/ui/login"})).text)
        assert english.one("html")["dir"] == "ltr" and Page.text(english.one("h1")) == "Sign in to Itinera"
