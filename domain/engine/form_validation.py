"""A completion form (or a member correction) validated, with a rejection that names each
field, the reason and what is allowed."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from domain import forms
from domain.engine.draft import reject
from domain.errors import CommandRejected, RejectionCode
from domain.programmes.registry import any_spec, spec_of


def validate_form(task_type: str, data: dict[str, Any], *, today: date, programme: str | None = None) -> Any:
    """Validate a completion form of a task type as ``programme`` runs it (any programme's
    form when not given: the form is the same wherever the programme does not matter)."""
    spec = spec_of(programme, task_type) if programme is not None else any_spec(task_type)
    try:
        return forms.parse_form(spec.form, data, today=today)
    except ValidationError as exc:
        raise form_rejection(f"{task_type} form", exc) from None


def form_rejection(what: str, exc: ValidationError, prefix: str = "") -> CommandRejected:
    def loc(parts: tuple[Any, ...]) -> str:
        joined = ".".join(str(p) for p in parts)
        return ".".join(p for p in (prefix, joined) if p) or "form"

    errors = exc.errors(include_url=False, include_input=False)
    return reject(
        RejectionCode.INVALID_FORM,
        f"the {what} is invalid: " + "; ".join(f"{loc(e['loc'])}: {e['msg']}" for e in errors),
        [{"field": loc(e["loc"]), "reason": e["msg"], "type": e["type"]}
         | ({"allowed": e["ctx"]["expected"]} if "expected" in (e.get("ctx") or {}) else {})
         for e in errors],
    )
