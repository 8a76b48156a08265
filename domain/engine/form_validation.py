"""A completion form (or a member correction) validated, with a rejection that names each
field, the reason and what is allowed."""

from __future__ import annotations

from datetime import date, datetime
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from domain import forms
from domain.engine.draft import reject
from domain.errors import CommandRejected, RejectionCode, plain_reason
from domain.programmes.registry import any_spec, spec_of


def validate_form(task_type: str, data: dict[str, Any], *, today: date, now: datetime | None = None,
                  programme: str | None = None, admission: bool = True) -> Any:
    """Validate a completion form of a task type as ``programme`` runs it (any programme's
    form when not given: the form is the same wherever the programme does not matter).
    ``now``: the instant an instant that happened may not be after (``forms.parse_form``).
    ``admission``: with the form rules added as admission rules (``forms.parse_form``)."""
    spec = spec_of(programme, task_type) if programme is not None else any_spec(task_type)
    try:
        return forms.parse_form(spec.form, data, today=today, now=now, admission=admission)
    except ValidationError as exc:
        raise form_rejection(f"{task_type} form", exc) from None


def form_rejection(what: str, exc: ValidationError, prefix: str = "") -> CommandRejected:
    def loc(parts: tuple[Any, ...]) -> str:
        joined = ".".join(str(p) for p in parts)
        return ".".join(p for p in (prefix, joined) if p) or "form"

    errors = exc.errors(include_url=False, include_input=False)
    return reject(
        RejectionCode.INVALID_FORM,
        f"the {what} is invalid: " + "; ".join(f"{loc(e['loc'])}: {plain_reason(e['msg'])}" for e in errors),
        [{"field": loc(e["loc"]), "reason": plain_reason(e["msg"]), "type": e["type"]}
         | ({"allowed": e["ctx"]["expected"]} if "expected" in (e.get("ctx") or {}) else {})
         for e in errors],
    )


def _is_boolean(annotation: Any) -> bool:
    """``bool``, ``Literal[True]`` (a confirmation), or either of them optional / annotated."""
    origin = get_origin(annotation)
    if annotation is bool:
        return True
    if origin is Literal:
        return all(isinstance(v, bool) for v in get_args(annotation))
    if origin is Annotated:
        return _is_boolean(get_args(annotation)[0])
    if origin in (Union, UnionType):
        kinds = [a for a in get_args(annotation) if a is not NoneType]
        return len(kinds) == 1 and _is_boolean(kinds[0])
    return False


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model of a list of objects (a plan's items), if the annotation is one."""
    if get_origin(annotation) is Annotated:
        return _model_of(get_args(annotation)[0])
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        if get_origin(item) is Annotated:
            item = get_args(item)[0]
        return item if isinstance(item, type) and issubclass(item, BaseModel) else None
    return None


def _not_booleans(model: type[BaseModel], data: Any, prefix: str = "") -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        return []
    found = []
    for name, info in model.model_fields.items():
        raw = data.get(name)
        if raw is None:
            continue
        if _is_boolean(info.annotation) and not isinstance(raw, bool):
            found.append({"field": prefix + name, "reason": f"must be a JSON boolean (true or false), not {raw!r}",
                          "allowed": [True] if get_origin(info.annotation) is Literal else [True, False]})
        items = _model_of(info.annotation)
        if items is not None and isinstance(raw, list):
            for i, row in enumerate(raw):
                found += _not_booleans(items, row, f"{prefix}{name}.{i}.")
    return found


def check_json_booleans(task_type: str, form: BaseModel, data: dict[str, Any]) -> None:
    """Refuse a yes/no field sent as anything but a JSON boolean (``1``, ``"yes"``): pydantic
    reads ``1`` as true, and a client that sends it has not said "true".  An admission rule
    (``ctx.admission_rules``): forms recorded before it replay as decided."""
    wrong = _not_booleans(type(form), data)
    if wrong:
        raise reject(RejectionCode.INVALID_FORM,
                     f"the {task_type} form is invalid: " + "; ".join(f"{w['field']}: {w['reason']}" for w in wrong),
                     wrong)
