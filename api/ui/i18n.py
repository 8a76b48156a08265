"""The UI's languages: the chrome (navigation, headings, buttons, notices) in the user's language.

Catalogs are gettext ``.po`` files under ``api/locales/<lang>/LC_MESSAGES/messages.po``,
written by people and read with Babel (the well-kept Python i18n library, which also gives
the names of countries and languages in every language): they are compiled in memory when
first used, so there is no build step to forget and no binary ``.mo`` file in the repository.
Templates mark text with ``{{ _('...') }}`` (Jinja2's i18n extension, new-style: named
placeholders, autoescaped); Python code with ``gettext`` of this module.

The language is the user's choice (the language menu sets the ``itinera_lang`` cookie, kept
a year), else the browser's ``Accept-Language``, else English.  Arabic is written right to
left: ``direction`` says so for the page's ``dir`` attribute.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGE_COOKIE = "itinera_lang"
DEFAULT_LANGUAGE = "en"
# code -> the language's own name, as the menu shows it (a reader finds their language by it).
LANGUAGES: dict[str, str] = {"en": "English", "tr": "Türkçe", "fr": "Français", "ar": "العربية"}
RIGHT_TO_LEFT = frozenset({"ar"})

_current: ContextVar[str] = ContextVar("itinera_ui_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The catalog of ``language`` (English: the messages as written)."""
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def chosen_language(request: Request) -> str:
    """The user's language: the menu's cookie, else the browser's first language we speak."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def use_language(language: str) -> None:
    """The language this request's page is rendered in."""
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


def direction(language: str | None = None) -> str:
    return "rtl" if (language or current_language()) in RIGHT_TO_LEFT else "ltr"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Marks a message for the catalogs where it is defined; translated where it is shown."""
    return message


# Words the pages show from values (roles, statuses, priorities), marked for the catalogs.
VALUE_WORDS = (N_("Caseworker"), N_("Medical officer"), N_("Movement officer"), N_("Supervisor"), N_("Admin"),
               N_("Active"), N_("On hold"), N_("Closed"), N_("Emergency"), N_("Urgent"), N_("Normal"),
               N_("Completed"), N_("Cancelled"))


def gettext(message: str, **variables: object) -> str:
    """``message`` in the current language, with ``%(name)s`` placeholders filled."""
    text = translations(current_language()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}
