"""Text a case file can hold: what PostgreSQL can store and every later reader can show.

* PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000 (NUL).
* A lone surrogate (U+D800-U+DFFF outside a pair, e.g. a JSON ``"\\ud800"``) is not a
  character: UTF-8 cannot encode it, so neither asyncpg nor a JSON encoder can write it.
* Other control characters (C0 and C1) break exports, terminals and letters; a line break
  (also U+2028, U+2029) or a tab has no place in a name.
* The Unicode direction overrides and isolates (U+202A-U+202E, U+2066-U+2069) make a name
  display as something else than what it is ("Trojan Source" spoofing) in every list,
  letter and export that shows it.  Arabic, Hebrew and mixed names need none of them.

Two annotated string types carry the rule, for every string of every request model and
form: ``Text`` (free text, notes: tab and line breaks allowed) and ``Line`` (names,
places, references: one line, no direction controls).  The check is a Python regex over
code points.  The JSON Schema shows the same rule as a ``pattern`` (so a generated form
and any JSON Schema validator refuse what the API refuses) and as a description.  The
pattern is ECMA-262 and means the same with or without the ``u`` flag: a character outside
the Basic Multilingual Plane is one code point with it and a surrogate pair without it,
and either way it is accepted; an unpaired surrogate never is.

``unstorable`` is the narrower test the API's edge applies to every string of a request
(bodies, query parameters, path ids), whatever model reads it later.

``Rule`` shows a rule JSON Schema cannot express as the description of the value's
schema; ``ShowsRules`` appends it to a field's own description too, which would
otherwise replace it.  Pure: no I/O, no clock; the workflow sandbox imports this module.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_SURROGATES = "\\uD800-\\uDFFF"
_PAIR = "[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]"
_TEXT_CONTROLS = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F"  # all but tab, LF, CR
_LINE_CONTROLS = "\\u0000-\\u001F\\u007F-\\u009F"
_LINE_SEPARATORS = "\\u2028\\u2029"
_DIRECTION_CONTROLS = "\\u202A-\\u202E\\u2066-\\u2069"

TEXT_PATTERN = f"^(?:[^{_TEXT_CONTROLS}{_SURROGATES}]|{_PAIR})*$"
LINE_PATTERN = f"^(?:[^{_LINE_CONTROLS}{_LINE_SEPARATORS}{_DIRECTION_CONTROLS}{_SURROGATES}]|{_PAIR})*$"

TEXT_RULE = ("Text: no NUL or other control characters except tab and line breaks, and no unpaired "
             "surrogates.")
LINE_RULE = ("One line of text: no control characters or line breaks (such as NUL or U+2028), no Unicode "
             "direction overrides or isolates (U+202A-U+202E, U+2066-U+2069), and no unpaired surrogates.")

# What Python finds: the same sets, over code points (a Python string never holds a valid pair
# as two surrogates, so any surrogate is unpaired).
_TEXT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_NAMES = {0x00: "NUL", 0x09: "a tab", 0x0A: "a line break", 0x0D: "a carriage return", 0x1B: "ESC",
          0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
          0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
          0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
          0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE", 0x2069: "POP DIRECTIONAL ISOLATE"}


def describe(char: str) -> str:
    """A forbidden character as a person reads it: ``U+0000 (NUL)``, ``U+D800 (an unpaired surrogate)``."""
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        name = "an unpaired surrogate"
    elif point in _NAMES:
        name = _NAMES[point]
    else:
        name = "a control character"
    return f"U+{point:04X} ({name})"


def _problem(value: str, forbidden: re.Pattern[str]) -> str | None:
    found = forbidden.search(value)
    if found is None:
        return None
    return f"contains {describe(found.group())} at character {found.start() + 1}"


def unstorable(value: str) -> str | None:
    """Why PostgreSQL or UTF-8 cannot hold ``value`` (NUL, an unpaired surrogate), or None."""
    return _problem(value, _UNSTORABLE)


def text_problem(value: str, *, single_line: bool) -> str | None:
    """Why ``value`` breaks the ``Line`` (``single_line``) or ``Text`` rule, or None."""
    return _problem(value, _LINE_FORBIDDEN if single_line else _TEXT_FORBIDDEN)


@dataclass(frozen=True)
class Rule:
    """A rule of a value, shown as the description of the value's schema (and, through
    ``ShowsRules``, after a field's own description), with the ``pattern`` of a string
    when one says it (the value's own validators enforce at least as much)."""

    text: str
    pattern: str | None = None

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target["description"] = _with(target.get("description"), self.text)
        if self.pattern is not None:
            target["pattern"] = self.pattern
        return json_schema


@dataclass(frozen=True)
class SafeText(Rule):
    """The text rule of ``Text`` and ``Line``: checked after stripping and length limits."""

    single_line: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        problem = text_problem(value, single_line=self.single_line)
        if problem is not None:
            allowed = LINE_RULE if self.single_line else TEXT_RULE
            # "expected" is the context key both error formatters (API and workflow) show as "allowed"
            raise PydanticCustomError("unsafe_text", "{problem}", {"problem": problem, "expected": allowed})
        return value


_TEXT = SafeText(TEXT_RULE, TEXT_PATTERN)
_LINE = SafeText(LINE_RULE, LINE_PATTERN, single_line=True)


def Text(*, max_length: int, min_length: int = 0) -> Any:  # noqa: N802 - reads as a type
    """Free text (notes, reasons): tab and line breaks allowed; stripped of outer whitespace."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     _TEXT]


def Line(*, max_length: int, min_length: int = 1) -> Any:  # noqa: N802 - reads as a type
    """One line (a name, a place, a reference): no control or direction characters; stripped."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     _LINE]


def _with(description: str | None, rule: str) -> str:
    if not description:
        return rule
    return description if rule in description else f"{description.rstrip()} {rule}"


def _rules_in(annotation: Any, metadata: list[Any]) -> list[Rule]:
    """The ``Rule`` markers of a field: in its metadata and anywhere inside its annotation
    (``Annotated[Notes | None, ...]`` keeps the marker two levels down)."""
    found = [m for m in metadata if isinstance(m, Rule)]
    todo = [annotation]
    while todo:
        current = todo.pop()
        if get_origin(current) is Annotated:
            args = get_args(current)
            found += [m for m in args[1:] if isinstance(m, Rule)]
            todo.append(args[0])
        elif get_origin(current) in (Union, types.UnionType):
            todo += list(get_args(current))
    return list(dict.fromkeys(found))


class ShowsRules(BaseModel):
    """Base of request models: a field's own description keeps the rules of its type.

    Pydantic lets a field's description replace its type's, which would hide the rule of a
    ``Text``, ``Line`` or dated field exactly where a client reads it; this appends it."""

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        properties = handler.resolve_ref_schema(json_schema).get("properties", {})
        for name, field in cls.model_fields.items():
            prop = properties.get(field.alias or name)
            if prop is None or not field.description:
                continue
            for rule in _rules_in(field.annotation, field.metadata):
                prop["description"] = _with(prop.get("description"), rule.text)
        return json_schema
