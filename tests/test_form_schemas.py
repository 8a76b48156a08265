"""Every form states its rules in the JSON Schema the API serves (issue 12).

Walks every task type of every programme, as the programme runs it (the schema the API
serves for a task: ``form_json_schema`` of the programme's spec).  For each branch of the
served schema (each outcome or decision; the whole form when it has none), a form made only
from the schema - its required fields and the branch's choice, values from the schema's
types, formats, enums, patterns and bounds, dates today or in the past (today where the
schema says "Not in the past") - is accepted by ``parse_form`` and by a JSON Schema
validator.  Without any one required field it is refused by both, the error naming that
field; a field of another branch is refused by both; every optional field may be added.  So
the validator demands exactly what the schema marks required, branch by branch.

Pure: no stack.  The generator knows no form: a new form or programme is covered as it is
registered.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

import domain.programmes  # noqa: F401 - registers the built-in programmes
from domain import forms
from domain.programmes.registry import programmes, spec_of

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _served() -> list[tuple[str, str]]:
    return [(d.name, t) for d in programmes() for t in d.task_specs]


def _schema(programme: str, task_type: str) -> dict[str, Any]:
    return forms.form_json_schema(spec_of(programme, task_type).form)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
        return _resolve({**target, **{k: v for k, v in node.items() if k != "$ref"}}, root)
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        return _resolve({**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}, root)
    return node


def _branches(schema: dict[str, Any]) -> list[tuple[str | None, str | None, dict[str, Any]]]:
    """(choice field, choice value, branch schema) of each branch; one (None, None, schema)
    for a form without a choice."""
    discriminator = schema.get("discriminator")
    if discriminator is None:
        return [(None, None, schema)]
    key, mapping = discriminator["propertyName"], discriminator["mapping"]
    assert sorted(o["$ref"] for o in schema["oneOf"]) == sorted(mapping.values())
    return [(key, value, _resolve({"$ref": ref}, schema)) for value, ref in mapping.items()]


# --- a form from the schema alone --------------------------------------------------------------


def _sample(pattern: str, variant: int) -> str:
    """A string the (ECMA-262, here read by Python's re) pattern matches; ``variant`` varies it."""
    readable = f"Sample {variant % 1000}"
    if re.fullmatch(pattern, readable):
        return readable
    return "".join(_walk(re._parser.parse(pattern), variant))  # type: ignore[attr-defined]


def _walk(parsed: Any, variant: int) -> list[str]:
    out: list[str] = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "IN":
            chars: list[str] = []
            for item_op, item in arg:
                if str(item_op) == "RANGE":
                    chars += [chr(c) for c in range(item[0], item[1] + 1)]
                elif str(item_op) == "LITERAL":
                    chars.append(chr(item))
            out.append(chars[(variant + len(out)) % len(chars)])
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, _, sub = arg
            for _ in range(max(low, 0)):
                out += _walk(sub, variant + len(out))
        elif name == "SUBPATTERN":
            out += _walk(arg[-1], variant)
        elif name == "BRANCH":
            out += _walk(arg[1][0], variant)
        elif name == "AT":
            continue
        else:
            raise AssertionError(f"the test's pattern sampler does not know {name} ({parsed})")
    return out


def _value(name: str, prop: dict[str, Any], root: dict[str, Any]) -> Any:
    node = _resolve(prop, root)
    if "anyOf" in node:
        node = _resolve(next(v for v in node["anyOf"] if v.get("type") != "null"), root)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][zlib.crc32(name.encode()) % len(node["enum"])]
    kind = node.get("type")
    description = prop.get("description", "") + node.get("description", "")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        low = node.get("minimum", node.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in node else 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "array":
        return [_value(name, node["items"], root) for _ in range(node.get("minItems", 0))]
    if kind == "object":
        return _form(node, root)
    if kind == "string":
        if node.get("format") == "date":
            return (TODAY if "Not in the past" in description else TODAY - timedelta(days=1)).isoformat()
        if node.get("format") == "date-time":
            return (NOW - timedelta(hours=1)).isoformat()
        variant = zlib.crc32(name.encode())
        text = _sample(node["pattern"], variant) if "pattern" in node else f"Sample {name}"
        text = text[: node.get("maxLength", len(text))]
        return text + "x" * max(0, node.get("minLength", 0) - len(text))
    raise AssertionError(f"the test cannot make a value for {name}: {node}")


def _form(branch: dict[str, Any], root: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    """The branch's required fields (and, with ``optional``, all its fields), from the schema."""
    names = list(branch.get("properties", {})) if optional else branch.get("required", [])
    return {n: _value(n, branch["properties"][n], root) for n in names}


def _refused(form_type: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        forms.parse_form(form_type, data, today=TODAY)
    except ValidationError as exc:
        return exc.errors()
    return []


def _schema_accepts(schema: dict[str, Any], data: dict[str, Any]) -> bool:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(data)


# --- the walk --------------------------------------------------------------------------------


@pytest.mark.parametrize(("programme", "task_type"), _served(), ids=lambda v: v)
def test_a_form_made_from_the_served_schema_is_accepted_branch_by_branch(programme: str, task_type: str) -> None:
    form_type = spec_of(programme, task_type).form
    schema = _schema(programme, task_type)
    for key, value, branch in _branches(schema):
        what = f"{programme} {task_type}" + (f" {key}={value}" if key else "")
        data = _form(branch, schema)
        if key is not None:
            assert key in branch.get("required", []), f"{what}: the choice must be required in its branch"
            assert data[key] == value
        assert _schema_accepts(schema, data), f"{what}: the served schema refuses its own required fields {data}"
        parsed = forms.parse_form(form_type, data, today=TODAY)
        assert isinstance(parsed, forms.Form), f"{what}: parse_form returns the branch's model, not a union"
        if key is not None:
            assert getattr(parsed, key) == value

        full = _form(branch, schema, optional=True)
        assert _schema_accepts(schema, full), f"{what}: {full}"
        forms.parse_form(form_type, full, today=TODAY)


@pytest.mark.parametrize(("programme", "task_type"), _served(), ids=lambda v: v)
def test_every_field_the_validator_demands_is_required_in_the_schema(programme: str, task_type: str) -> None:
    """Without any one of a branch's required fields, both refuse it, naming that field; and
    the form of the previous test shows nothing else is demanded."""
    form_type = spec_of(programme, task_type).form
    schema = _schema(programme, task_type)
    for key, value, branch in _branches(schema):
        data = _form(branch, schema)
        for name in branch.get("required", []):
            what = f"{programme} {task_type}" + (f" {key}={value}" if key else "") + f" without {name}"
            without = {k: v for k, v in data.items() if k != name}
            errors = _refused(form_type, without)
            assert errors, f"{what}: accepted, but the schema requires {name}"
            assert [e["loc"][0] for e in errors if e["loc"]] == [name], f"{what}: {errors}"
            assert errors[0]["type"] == "missing", f"{what}: {errors}"
            assert not _schema_accepts(schema, without), f"{what}: the schema accepts it"


@pytest.mark.parametrize(("programme", "task_type"), _served(), ids=lambda v: v)
def test_a_field_of_another_branch_is_refused_by_both(programme: str, task_type: str) -> None:
    form_type = spec_of(programme, task_type).form
    schema = _schema(programme, task_type)
    branches = _branches(schema)
    for key, value, branch in branches:
        data = _form(branch, schema)
        others = {n: p for _, v, b in branches if v != value for n, p in b["properties"].items()
                  if n not in branch["properties"]}
        for name, prop in others.items():
            with_it = {**data, name: _value(name, prop, schema)}
            errors = _refused(form_type, with_it)
            assert [e["loc"] for e in errors] == [(name,)], f"{task_type} {key}={value} with {name}: {errors}"
            assert errors[0]["msg"].startswith(f"only for {key} "), errors
            assert not _schema_accepts(schema, with_it), f"{task_type} {key}={value} with {name}"


@pytest.mark.parametrize(("programme", "task_type"), _served(), ids=lambda v: v)
def test_the_summary_of_a_choice_form_lists_every_field_once(programme: str, task_type: str) -> None:
    """For clients that read no ``oneOf`` (and the UI's order of fields): every field of every
    branch in ``properties``, ``required`` what every branch requires, the choice's values."""
    schema = _schema(programme, task_type)
    branches = _branches(schema)
    if branches[0][0] is None:
        assert "oneOf" not in schema
        return
    key = branches[0][0]
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {n for _, _, b in branches for n in b["properties"]}
    assert set(schema["required"]) == set.intersection(*(set(b["required"]) for _, _, b in branches))
    assert sorted(schema["properties"][key]["enum"]) == sorted(v for _, v, _ in branches)
    assert schema["additionalProperties"] is False
    assert all(b.get("additionalProperties") is False for _, _, b in branches)


# What the engine reads from a completion, by choice: each is required in that branch.
ENGINE_NEEDS: dict[tuple[str, str | None], set[str]] = {
    ("conduct_interview", "deferred"): {"follow_up_date"},
    ("conduct_interview", "rejected"): {"rejection_reason"},
    ("assess_health", "cleared"): {"clearance_valid_until"},
    ("record_visa", "issued"): {"visa_number", "issued_on", "valid_until"},
    ("record_visa", "refused"): {"decided_on", "refusal_reason"},
    ("record_departure", "departed"): {"departed_at"},
    ("record_departure", "no_show"): {"reason"},
    ("record_departure", "postponed"): {"reason"},
    ("review_outcome", "resubmit"): {"destination_country", "reason"},
    ("review_outcome", "close"): {"reason"},
    ("assess_eligibility", "not_eligible"): {"not_eligible_reason"},
    ("record_travel_document", "issued"): {"document_type", "document_number", "issuing_consulate", "issued_on",
                                           "valid_until"},
    ("record_travel_document", "refused"): {"decided_on", "refusal_reason"},
    ("record_exit_permission", "granted"): {"reference", "authority", "decided_on"},
    ("record_exit_permission", "refused"): {"refusal_reason", "authority", "decided_on"},
    ("check_fit_to_travel", None): {"checked_at", "outcome"},
    ("book_movement", None): {"departure_at", "flight_number"},
    ("resolve_escalation", None): {"action_taken"},
    ("record_assistance_delivery", None): {"item_number", "delivered_on"},
}


@pytest.mark.parametrize(("programme", "task_type"), _served(), ids=lambda v: v)
def test_what_the_engine_needs_for_an_outcome_is_required_in_its_branch(programme: str, task_type: str) -> None:
    schema = _schema(programme, task_type)
    for _, value, branch in _branches(schema):
        needed = ENGINE_NEEDS.get((task_type, value), set())
        missing = needed - set(branch.get("required", []))
        assert not missing, f"{programme} {task_type} {value}: the engine needs {missing}, the schema calls them optional"


def test_avrr_requires_the_receiving_partner_and_resettlement_does_not() -> None:
    avrr, resettlement = _schema("avrr", "confirm_arrival"), _schema("resettlement", "confirm_arrival")
    assert "receiving_partner" in avrr["required"]
    assert "receiving_partner" not in resettlement["required"]
    form = {"arrived_on": TODAY.isoformat(), "place": "Erbil"}
    assert [e["loc"] for e in _refused(spec_of("avrr", "confirm_arrival").form, form)] == [("receiving_partner",)]
    assert not _refused(spec_of("resettlement", "confirm_arrival").form, form)


def test_the_api_serves_the_schema_of_the_tasks_own_programme() -> None:
    from api.readmodel import task_detail
    from api.schemas import TaskView

    def served(programme: str) -> dict[str, Any]:
        task = TaskView(task_id="C-1-T09", case_id="C-1", task_type="confirm_arrival", title="Confirm arrival",
                        stage="arrival", stage_label="Arrival", role="caseworker", member_id=None, member_name=None,
                        office="IST", priority="normal", status="open", opened_at=NOW, due_at=NOW, overdue=False,
                        claimed_by=None, claimed_at=None, completed_at=None, completed_by=None, programme=programme)
        return task_detail(task).form_schema

    assert served("avrr") == _schema("avrr", "confirm_arrival")
    assert "receiving_partner" in served("avrr")["required"]
    assert "receiving_partner" not in served("resettlement")["required"]


def test_errors_name_fields_not_union_branches() -> None:
    """A missing or unknown choice is reported at the choice, with the other fields' errors;
    a chosen branch's errors at its fields."""
    errors = _refused(forms.RecordVisaForm, {"outcome": "granted", "issued_on": "2030-01-01"})
    assert [e["loc"] for e in errors] == [("outcome",)]
    assert errors[0]["ctx"]["expected"] == "'issued' or 'refused'"
    errors = _refused(forms.ConductInterviewForm, {"interview_date": (TODAY + timedelta(days=3)).isoformat(),
                                                   "follow_up_date": TODAY.isoformat(), "shoe_size": 42})
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("outcome",), "missing"), (("interview_date",), "value_error"), (("shoe_size",), "extra_forbidden")]
    errors = _refused(forms.RecordVisaForm, {"outcome": "issued", "visa_number": "NO-1", "issued_on": TODAY.isoformat(),
                                             "valid_until": TODAY.isoformat()})
    assert [e["loc"] for e in errors] == [("valid_until",)]
    assert "must be after issued_on" in errors[0]["msg"]
    # the union's own model_validate (what a generic client of the schema does) agrees
    model = forms.RecordVisaForm.model_validate({"outcome": "refused", "decided_on": "2026-11-20",
                                                 "refusal_reason": "Security screening."})
    assert isinstance(model.root, forms.RecordVisaRefusedForm) and model.refusal_reason == "Security screening."


def test_an_unaccompanied_minor_needs_an_escort_in_the_schema_too() -> None:
    schema = _schema("avrr", "screen_vulnerability")
    minor = {"screened_on": TODAY.isoformat(), "unaccompanied_minor": True}
    assert not _schema_accepts(schema, minor) and _refused(forms.ScreenVulnerabilityForm, minor)
    escorted = {**minor, "escort_required": True}
    assert _schema_accepts(schema, escorted) and not _refused(forms.ScreenVulnerabilityForm, escorted)


def test_a_plan_item_with_an_amount_needs_its_currency_in_the_schema_too() -> None:
    schema = _schema("avrr", "record_reintegration_plan")
    item = {"kind": "economic", "description": "Grant"}
    for items, ok in (([item], True), ([{**item, "amount": "100.00"}], False),
                      ([{**item, "currency": "USD"}], False), ([{**item, "amount": "100.00", "currency": "USD"}], True)):
        data = {"agreed_on": TODAY.isoformat(), "items": items}
        assert _schema_accepts(schema, data) is ok, items
        assert (not _refused(forms.RecordReintegrationPlanForm, data)) is ok, items
