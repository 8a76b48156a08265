"""Countries, languages and currencies as people choose them: by name, from a list.

A form's JSON Schema says a value is a code (ISO 3166 country, ISO 639 language, ISO 4217
currency) by its ``pattern`` or ``enum``; the UI shows a list of names instead of a text box
where someone would have to know that Syria is ``SY``.  The names come from Babel's CLDR data
(the library the UI's translations use too), so they exist in every language the UI speaks.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from babel import Locale

from api.ui.i18n import current_language
from domain.countries import COUNTRY_CODES
from domain.currencies import CURRENCY_CODES

COUNTRY_PATTERN = "^[A-Z]{2}$"
LANGUAGE_PATTERN = "^[a-z]{2,3}$"
CURRENCY_PATTERN = "^[A-Z]{3}$"
_LANGUAGE_CODE = re.compile(LANGUAGE_PATTERN)


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, TypeError):
        return Locale("en")


@cache
def countries(language: str = "en") -> tuple[tuple[str, str], ...]:
    """(code, name) of every country the domain accepts, sorted by name."""
    names = _locale(language).territories
    return tuple(sorted(((c, names.get(c, c)) for c in COUNTRY_CODES), key=lambda p: p[1].casefold()))


@cache
def languages(language: str = "en") -> tuple[tuple[str, str], ...]:
    """(code, name) of the ISO 639 languages CLDR names with a two- or three-letter code."""
    names = _locale(language).languages
    return tuple(sorted(((c, n) for c, n in names.items() if _LANGUAGE_CODE.match(c)), key=lambda p: p[1].casefold()))


@cache
def currencies(language: str = "en") -> tuple[tuple[str, str], ...]:
    """(code, "name (code)") of the ISO 4217 currencies in use (``domain.currencies``: what a form accepts)."""
    names = _locale(language).currencies
    return tuple(sorted(((c, f"{names.get(c, c)} ({c})") for c in CURRENCY_CODES), key=lambda p: p[1].casefold()))


def code_list(node: dict[str, Any], language: str | None = None) -> tuple[tuple[str, str], ...] | None:
    """The list to choose a value of this JSON Schema from, if it is a country, language or
    currency code (None for anything else), named in ``language`` (default: the page's)."""
    pattern = node.get("pattern")
    enum = node.get("enum")
    description = str(node.get("description") or "")
    language = language or current_language()
    if pattern == COUNTRY_PATTERN or (isinstance(enum, list) and set(enum) == COUNTRY_CODES):
        return countries(language)
    if pattern == LANGUAGE_PATTERN:
        return languages(language)
    if pattern == CURRENCY_PATTERN and "4217" in description:
        return currencies(language)
    return None
