"""A person's name as someone types it in: one ``Line``, and nothing in it that no one sees.

A name is searched, matched against other records and printed on manifests and letters.
An invisible character in it (U+200B ZERO WIDTH SPACE, U+FEFF, U+2060 WORD JOINER, a
left-to-right mark, a soft hyphen, a Unicode "tag" character: any *format* character,
Unicode category Cf) makes two names that look the same differ, defeats the duplicate
check and the search, and can hide text.  A combining mark (an accent) at the start of the
name or of a word has no letter to sit on.  Both are refused, naming the character.

Two format characters are kept: U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH JOINER
are how Persian, Kurdish (Sorani), Urdu and Indic names are written correctly
("محمدی\u200cنژاد").  So are all letters and combining marks after a letter (Vietnamese in
decomposed form, Arabic and Hebrew vowel points) and the ideographic space of Japanese names.
A name has at least one letter (Unicode category L*): U+2800 BRAILLE PATTERN BLANK (a
symbol, category So) renders as nothing, and a string of symbols or digits alone is no name;
symbols and emoji (with their joiners) beside letters are kept as they were.

Input only: ``PersonName`` is for request models (a referral's members and sponsor, a name
correction, who withdrew consent, a session's facilitator).  What was already stored
(events, workflow payloads, a session's state) keeps ``domain.text.Line`` and stays
readable whatever an earlier version let in.

The JSON Schema carries the rule as its description and, for the format characters of the
Basic Multilingual Plane (every one a name could meet), as a ``pattern`` that extends
``domain.text.LINE_PATTERN``; the validator enforces the whole rule (also the few format
characters outside the BMP, and combining marks at a word's start, which no compact
ECMA-262 pattern can list).  Pure: the sets are constants, not ``unicodedata`` (whose
version follows the Python one); tests check they hold every Cf character Python knows.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from domain.text import Rule, text_problem

# Unicode 15.1's format characters (category Cf), as (first, last) code points, less
# U+200C and U+200D (kept: see above).
FORMAT_CHARACTERS: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200B), (0x200E, 0x200F),
    (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)
# Letters that show nothing: the Hangul fillers (Lo, but blank; Korean names never hold one).
BLANK_LETTERS: tuple[tuple[int, int], ...] = ((0x115F, 0x1160), (0x3164, 0x3164), (0xFFA0, 0xFFA0))
KEPT_JOINERS = frozenset({0x200C, 0x200D})

_INVISIBLE = frozenset(c for first, last in FORMAT_CHARACTERS + BLANK_LETTERS for c in range(first, last + 1))
_NAMES = {0x00AD: "SOFT HYPHEN", 0x180E: "MONGOLIAN VOWEL SEPARATOR", 0xFEFF: "ZERO WIDTH NO-BREAK SPACE (BOM)",
          0x115F: "HANGUL CHOSEONG FILLER", 0x1160: "HANGUL JUNGSEONG FILLER", 0x3164: "HANGUL FILLER",
          0xFFA0: "HALFWIDTH HANGUL FILLER"}


def _bmp_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\u{a:04X}" if a == b else f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges if b <= 0xFFFF)


# domain.text.LINE_PATTERN with the BMP's invisible characters added to what it refuses.
PERSON_NAME_PATTERN = ("^(?:[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\uD800-\\uDFFF"
                       f"{_bmp_class(FORMAT_CHARACTERS + BLANK_LETTERS)}]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$")
PERSON_NAME_RULE = ("A person's name, on one line: no control characters or line breaks, no unpaired surrogates, "
                    "and no invisible characters: no Unicode format characters (category Cf, such as U+200B ZERO "
                    "WIDTH SPACE, U+FEFF, U+2060 WORD JOINER, U+200E LEFT-TO-RIGHT MARK, U+00AD SOFT HYPHEN, the "
                    "direction overrides and isolates U+202A-U+202E and U+2066-U+2069) except U+200C ZERO WIDTH "
                    "NON-JOINER and U+200D ZERO WIDTH JOINER, which Persian, Kurdish and Indic names use; no "
                    "Hangul filler; no combining mark (an accent) at the start of the name or of a word; and at "
                    "least one letter (a name of symbols alone, such as U+2800 BRAILLE PATTERN BLANK, shows nothing "
                    "or no name).")


def character_name(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: the code point and its Unicode name, as a person reads it."""
    point = ord(char)
    name = _NAMES.get(point) or unicodedata.name(char, "") or "unnamed"
    return f"U+{point:04X} {name}"


def _combining(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def person_name_problem(value: str) -> str | None:
    """Why ``value`` (already a valid ``Line``) is not a name someone can read as typed, or None."""
    for index, char in enumerate(value):
        if ord(char) in _INVISIBLE:
            return f"contains an invisible character, {character_name(char)}, at character {index + 1}"
        if _combining(char) and (index == 0 or value[index - 1].isspace()):
            where = "the name" if index == 0 else "a word"
            return (f"starts {where} with a combining mark, {character_name(char)}, at character {index + 1} "
                    "(a mark follows the letter it belongs to)")
    if not any(_letter(char) for char in value):
        distinct = list(dict.fromkeys(value))
        shown = ", ".join(character_name(c) for c in distinct[:3]) + (", ..." if len(distinct) > 3 else "")
        return f"has no letter (only {shown}): a name needs at least one letter of some script"
    return None


def _letter(char: str) -> bool:
    """A letter of any script (Unicode category L*), which a name has at least one of.  U+2800
    BRAILLE PATTERN BLANK (a symbol, So) or an emoji alone shows nothing of a name."""
    return unicodedata.category(char).startswith("L")


@dataclass(frozen=True)
class _PersonNameRule(Rule):
    """The rule of ``PersonName``, in place of ``Line``'s (which it includes): checked after
    stripping and length limits, a ``Line`` problem first (reported as ``Line`` reports it)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_check, handler(source))


def _check(value: str) -> str:
    line_problem = text_problem(value, single_line=True)
    problem = line_problem or person_name_problem(value)
    if problem is not None:
        # "expected" is the context key both error formatters (API and workflow) show as "allowed"
        raise PydanticCustomError("unsafe_text" if line_problem else "person_name", "{problem}",
                                  {"problem": problem, "expected": PERSON_NAME_RULE})
    return value


_RULE = _PersonNameRule(PERSON_NAME_RULE, PERSON_NAME_PATTERN)


def PersonName(*, max_length: int = 200, min_length: int = 1) -> Any:  # noqa: N802 - reads as a type
    """A person's name typed into a request: a ``Line`` with no invisible characters."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     _RULE]
