"""The validator's messages and the schemas' help as a caseworker reads them.

The API answers with pydantic's messages ("Field required", "String should match pattern
'^[A-Z]{2}$'", "Input should be 'treatment_required' or 'cleared'") because an integration's
developer reads them; the UI says the same thing in plain words, with the fields' labels and
the choices' names instead of codes.  The rule stays the model's: this module only rewords.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from api.ui.formatting import humanize
from api.ui.i18n import gettext as _
from domain.errors import plain_reason as without_prefix
from domain.model import COUNTRY_HELP
from domain.person_names import PERSON_NAME_RULE
from domain.text import LINE_RULE, TEXT_RULE

if TYPE_CHECKING:
    from api.ui.schema_form import FormField

# Help written for developers that a list of names or the browser's own control makes moot.
_DEVELOPER_HELP = (
    LINE_RULE, TEXT_RULE, PERSON_NAME_RULE,  # a name's character rules are the API's, not a caseworker's
    f", {COUNTRY_HELP}", COUNTRY_HELP,
    "ISO 639 code of the language, e.g. ar, fa, ku, ur.", "ISO 4217 code, e.g. USD",
)
_CODED_HELP = re.compile(r"\bISO (3166-1 alpha-2|639|4217)( language)?( code)?( of the [a-z ]+)?,? ?(e\.g\. [A-Za-z, ]+)?\.?")
_QUOTED_CODE = re.compile(r"'([a-z][a-z0-9]*(?:_[a-z0-9]+)*)'")
_NUMBER = r"(-?\d+(?:\.\d+)?)"


def plain_help(text: str | None, *, coded: bool) -> str | None:
    """A field's description without the parts written for developers (the character rules of
    every text, the ISO code formats of a value chosen from a list)."""
    if not text:
        return None
    original = text
    for phrase in _DEVELOPER_HELP:
        text = text.replace(phrase, "")
    if coded:
        text = _CODED_HELP.sub("", text)
    text = " ".join(text.split())
    if text != " ".join(original.split()):  # something was cut out: tidy the punctuation left
        text = re.sub(r"\s+([.,;])(?=\s|$)", r"\1", text)
        text = re.sub(r"[,;]\s*([.,;])", r"\1", text).strip(" ,;")
        text = re.sub(r"^[.,;]\s*", "", text)
    return text or None


def _words(reason: str, labels: dict[str, str]) -> str:
    """Codes in a message as words: 'principal' -> "Principal", destination_country -> "Destination country"."""
    reason = _QUOTED_CODE.sub(lambda m: f"“{labels.get(m.group(1)) or humanize(m.group(1))}”", reason)
    for name, label in sorted(labels.items(), key=lambda p: -len(p[0])):
        if "_" in name:
            reason = re.sub(rf"\b{re.escape(name)}\b", label.lower(), reason)
    return reason


def plain_reason(reason: str, f: FormField | None, labels: dict[str, str] | None = None) -> str:
    """One validation message in plain words, for the field ``f`` (None: the form as a whole)."""
    labels = labels or {}
    reason = without_prefix(reason).strip()
    choosing = f is not None and f.kind == "select"
    if reason in ("Field required", "String should have at least 1 character"):
        if f is not None and f.kind == "confirm":
            return _("Please tick this box.")
        return _("Please choose one.") if choosing else _("Please fill this in.")
    if choosing and reason.startswith(("String should match pattern", "Input should be")):
        return _("Please choose one of the listed options.")
    if reason.startswith("String should match pattern"):
        if f is not None and f.rule:
            return _("Not in the expected form.") + f" {f.rule}"
        return _("Not in the expected form.")
    if reason.startswith("Input should be") and ("'" in reason) and f is not None and f.options:
        return _("Please choose one of the listed options.")
    if (reason.startswith("Input should be a valid date") or "date from a string" in reason
            or reason.startswith("must be a date written YYYY-MM-DD")):
        return _("Enter a date as day, month and year.")
    if reason.startswith("Input should be a valid datetime"):
        return _("Enter a date and a time.")
    if reason.startswith("Input should have timezone info"):
        return _("Choose the time zone (UTC offset) of this time.")
    if reason.startswith("Input should be a valid integer"):
        return _("Enter a whole number.")
    if reason.startswith(("Input should be a valid number", "Input should be a valid decimal", "Decimal input")):
        return _("Enter a number.") if reason.startswith("Input") else reason
    if reason == "Extra inputs are not permitted":
        return _("This does not belong in this form.")
    if m := re.fullmatch(rf"Input should be greater than or equal to {_NUMBER}", reason):
        return _("Must be %(n)s or more.", n=m.group(1))
    if m := re.fullmatch(rf"Input should be less than or equal to {_NUMBER}", reason):
        return _("Must be %(n)s or less.", n=m.group(1))
    if m := re.fullmatch(rf"Input should be greater than {_NUMBER}", reason):
        return _("Must be more than %(n)s.", n=m.group(1))
    if m := re.fullmatch(r"String should have at (least|most) (\d+) characters?", reason):
        return (_("Use at least %(n)s characters.", n=m.group(2)) if m.group(1) == "least"
                else _("Use at most %(n)s characters.", n=m.group(2)))
    if m := re.fullmatch(r"List should have at least (\d+) items?.*", reason):
        return _("Add at least %(n)s.", n=m.group(1))
    if m := re.fullmatch(r"List should have at most (\d+) items?.*", reason):
        return _("No more than %(n)s.", n=m.group(1))
    text = _words(reason, labels)
    if f is not None:  # next to its field: as the rule says it ("must not be in the future (today is ...)")
        return text
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?", ")")) else ".")


def plain_query_reason(error: dict[str, Any]) -> str:
    """A refused value of a page's address (``?stage=bogus``, ``?from=2026-02-29``) in plain
    words: the values allowed, a date that does not exist; pydantic's sentence never."""
    kind, ctx, given = str(error.get("type", "")), error.get("ctx") or {}, error.get("input")
    if kind in ("enum", "literal_error") and ctx.get("expected"):
        return _("“%(value)s” is not one of the values allowed here: %(allowed)s.", value=given,
                 allowed=str(ctx["expected"]).replace("'", ""))
    if kind.startswith("datetime"):
        return _("“%(value)s” is not a valid date and time.", value=given)
    if kind.startswith("date"):
        return _("“%(value)s” is not a valid date (a day that exists, written year-month-day).", value=given)
    return plain_reason(str(error.get("msg", "")), None)
