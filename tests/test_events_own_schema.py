"""Events own their schema (issue 12): a stored event outlives any change to the form it came from.

* Every event recorded in ``tests/histories`` (decrypted from the Temporal payloads) loads as
  its registered class and serializes back to the very same JSON.
* Every completion event as the code before issue 12 recorded it (one per example of every
  form, ``tests/support/events_before_issue_12.json``) loads and serializes back unchanged, and
  today's forms map to exactly that JSON.
* With every form rule tightened (here: every form refuses everything), the stored events
  still load, fold, and ``rebuild_case_projection`` (what ``itinera rebuild-projection`` runs
  per case) rebuilds their cases from PostgreSQL.
* The event-type registry: a type registered later loads from Python and from JSON (the
  Temporal payload path); an unknown or unregistered type is refused; a form field without
  an event field is refused when the mapping is declared.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import annotated_types
import pytest
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WrapValidator,
)
from temporalio.api.common.v1 import Payload

import domain.programmes  # noqa: F401 - registers the built-in programmes
from domain import events as ev
from domain import forms
from domain.case import fold
from domain.programmes.registry import any_spec, programmes
from domain.tasks import task_type_member
from domain.text import Rule
from temporal_client import data_converter
from tests.support.stack import stack_settings

HISTORIES = Path(__file__).parent / "histories"
BEFORE = Path(__file__).parent / "support" / "events_before_issue_12.json"
RECORDED_KEYS = {"event_id", "case_id", "seq", "occurred_at", "actor", "event"}


def _payloads(node: Any) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "data" in node:
            yield node
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)


def _recorded(node: Any) -> Any:
    if isinstance(node, dict):
        if RECORDED_KEYS <= set(node):
            yield node
        else:
            for value in node.values():
                yield from _recorded(value)
    elif isinstance(node, list):
        for value in node:
            yield from _recorded(value)


@cache
def history_rows() -> tuple[dict[str, Any], ...]:
    """Every RecordedEvent (as JSON) in the payloads of the recorded histories, once each."""
    codec = data_converter(stack_settings()).payload_codec
    assert codec is not None

    async def decode(raw: dict[str, Any]) -> bytes | None:
        payload = Payload(metadata={k: base64.b64decode(v) for k, v in raw["metadata"].items()},
                          data=base64.b64decode(raw.get("data", "")))
        (plain,) = await codec.decode([payload])
        return plain.data if plain.metadata.get("encoding") == b"json/plain" else None

    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for path in sorted(HISTORIES.glob("*.json")):
        for raw in _payloads(json.loads(path.read_text())["history"]):
            data = asyncio.run(decode(raw))
            for row in _recorded(json.loads(data)) if data else ():
                rows.setdefault((row["case_id"], row["seq"]), row)
    return tuple(rows[k] for k in sorted(rows))


def before_rows() -> list[dict[str, Any]]:
    return json.loads(BEFORE.read_text())["events"]


def _cases(rows: tuple[dict[str, Any], ...]) -> dict[str, list[dict[str, Any]]]:
    cases: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        cases.setdefault(row["case_id"], []).append(row)
    return cases


@pytest.fixture
def forms_refuse_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every form rule tightened as far as it goes: no form accepts anything any more."""

    class Refuses:
        def __getattr__(self, name: str) -> Any:
            def refuse(*_: Any, **__: Any) -> Any:
                raise ValueError("this form accepts nothing any more")
            return refuse

    seen: list[type] = []
    todo: list[type] = [forms.Form, forms.ChoiceForm, forms.ReintegrationItem]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += [c for c in cls.__subclasses__() if c not in seen]
    for cls in seen:
        monkeypatch.setattr(cls, "__pydantic_validator__", Refuses())
    with pytest.raises(ValueError, match="accepts nothing"):
        forms.parse_form(forms.RecordVisaForm, {"outcome": "issued"}, today=date(2026, 11, 23))


# --- the stored JSON stays the same --------------------------------------------------------


def test_the_histories_hold_recorded_events_of_both_programmes() -> None:
    rows = history_rows()
    assert len(_cases(rows)) >= 2 and len(rows) > 80
    assert {r["event"]["type"] for r in rows} >= {"CaseReferred", "VisaIssued", "TravelDocumentIssued",
                                                  "ReintegrationPlanRecorded", "MonitoringVisitsScheduled"}


def test_every_event_recorded_in_the_histories_loads_and_serializes_back_unchanged() -> None:
    rows = history_rows()
    for row in rows:
        recorded = ev.RecordedEvent.model_validate(row)
        assert type(recorded.event) is ev.event_class(row["event"]["type"])
        assert json.loads(recorded.model_dump_json()) == row, row["event"]["type"]
    # the Temporal payload path: a list read straight from JSON, written back
    many = TypeAdapter(list[ev.RecordedEvent])
    assert json.loads(many.dump_json(many.validate_json(json.dumps(rows)))) == list(rows)


def test_every_completion_event_recorded_before_issue_12_loads_and_todays_forms_record_the_same_json() -> None:
    rows = before_rows()
    # programmes and tasks added after issue 12: nothing recorded before
    later = ("domain.programmes.family_reunification", "domain.programmes.exit_permission")
    completions = {name for name, cls in ev.event_types().items()
                   if issubclass(cls, ev.TaskCompletion) and not cls.__module__.startswith(later)}
    assert {r["event"]["type"] for r in rows} == completions
    for row in rows:
        stored = row["event"]
        event = ev.event_class(stored["type"]).model_validate(stored)
        assert json.loads(event.model_dump_json()) == stored
        form_type = any_spec(row["task_type"]).form
        form = form_type.parse(row["form"]) if issubclass(form_type, forms.ChoiceForm) else \
            form_type.model_validate(row["form"])
        context = {"visit_number": stored["visit_number"]} if "visit_number" in stored else {}
        made = ev.completion_event(row["task_type"], form, task_id=stored["task_id"], member_id=stored["member_id"],
                                   **context)
        assert json.loads(made.model_dump_json()) == stored, row["task_type"]


# --- tightened forms -------------------------------------------------------------------------


@pytest.mark.usefixtures("forms_refuse_everything")
def test_stored_events_load_and_fold_after_every_form_rule_is_tightened() -> None:
    for row in [*history_rows(), *({"event_id": "e", "case_id": "C-1", "seq": 1, "occurred_at": "2026-11-23T09:00:00Z",
                                    "actor": {"id": "ayse"}, "event": r["event"]} for r in before_rows())]:
        ev.RecordedEvent.model_validate(row)
    closed = 0
    for case_id, rows in _cases(history_rows()).items():
        state = fold([ev.RecordedEvent.model_validate(r) for r in rows])
        # every event folded (some histories end mid-way: a case on hold, a split's new half)
        assert state is not None and state.version == rows[-1]["seq"], case_id
        closed += state.status == "closed"
    assert closed >= 5  # the full cases of every programme fold to their closure


def test_a_tightened_visa_form_refuses_what_it_once_took_and_the_event_still_loads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A realistic tightening: visa numbers get a national format.  The form recorded before
    is refused today, the event it recorded is not."""
    row = next(r for r in history_rows() if r["event"]["type"] == "VisaIssued")

    class StricterIssued(forms.RecordVisaIssuedForm):
        visa_number: str = Field(pattern=r"^[A-Z]{2}-\d{4}-\d{6}$")

    class StricterVisaForm(forms.ChoiceForm):
        root: Annotated[StricterIssued | forms.RecordVisaRefusedForm, Field(discriminator="outcome")]

    stored_form = {k: row["event"][k] for k in ("outcome", "visa_number", "issued_on", "valid_until")}
    issued_on = date.fromisoformat(stored_form["issued_on"])
    forms.parse_form(forms.RecordVisaForm, stored_form, today=issued_on)
    with pytest.raises(ValidationError) as refused:
        forms.parse_form(StricterVisaForm, stored_form, today=issued_on)
    assert [e["loc"] for e in refused.value.errors()] == [("visa_number",)]
    monkeypatch.setattr(forms, "RecordVisaForm", StricterVisaForm)
    monkeypatch.setattr(forms, "RecordVisaIssuedForm", StricterIssued)
    assert ev.RecordedEvent.model_validate(row).event == ev.VisaIssued.model_validate(row["event"])


@pytest.mark.usefixtures("forms_refuse_everything")
async def test_the_projection_rebuilds_from_stored_events_after_every_form_rule_is_tightened(stack) -> None:
    from store.projection import _INSERT_EVENTS, rebuild_case_projection

    async with stack.pool.acquire() as conn:
        for old_id, rows in _cases(history_rows()).items():
            # a case of its own (its task and member ids carry the case id), its referral a new one
            case_id = f"C-EVT{uuid.uuid4().hex[:4].upper()}-{old_id[-9:]}"
            payloads = [json.dumps(r["event"]).replace(old_id, case_id) for r in rows]
            payloads[0] = json.dumps({**json.loads(payloads[0]), "external_referral_id": f"EVT-{case_id}"})
            await conn.fetch(
                _INSERT_EVENTS, case_id, [r["seq"] for r in rows], [str(uuid.uuid4()) for _ in rows],
                [r["event"]["type"] for r in rows], [r["actor"]["kind"] for r in rows],
                [r["actor"]["id"] for r in rows], [r["actor"].get("role") for r in rows],
                [datetime.fromisoformat(r["occurred_at"]) for r in rows],
                payloads)
            state = await rebuild_case_projection(conn, case_id)
            assert state is not None and state.version == rows[-1]["seq"], old_id
            stored = await conn.fetchrow("SELECT status, stage, member_count FROM cases WHERE case_id = $1", case_id)
            assert (stored["status"], stored["stage"]) == (state.status.value, state.stage.value), old_id
            assert stored["member_count"] == len(state.members)


# --- the registry ----------------------------------------------------------------------------


def test_the_registry_knows_every_event_and_no_event_inherits_a_form() -> None:
    types = ev.event_types()
    assert len(types) >= 52 and all(ev.event_class(name) is cls for name, cls in types.items())
    for name, cls in types.items():
        assert not issubclass(cls, forms.Form), name
        assert not any(issubclass(base, BaseModel) and base.__module__ == forms.__name__ for base in cls.__mro__), name
        decorators = cls.__pydantic_decorators__
        modes = [d.info.mode for d in [*decorators.field_validators.values(), *decorators.model_validators.values()]]
        assert set(modes) <= {"before"}, (
            f"{name}: an event judges no input (only 'before' validators, which convert or upcast what is "
            "stored: domain/events.py)")
    with pytest.raises(KeyError):
        ev.event_class("NoSuchEvent")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def test_no_event_field_carries_an_input_rule() -> None:
    """What a form's field judges (patterns, lengths, bounds, the text rule, "not in the
    future") is not on any field of any event, nor of the models inside them."""
    todo: list[type[BaseModel]] = list(ev.event_types().values())
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            for rule in field.metadata:
                what = f"{model.__name__}.{name}: {rule!r}"
                assert not isinstance(rule, (Rule, annotated_types.BaseMetadata)), what
                assert getattr(rule, "pattern", None) is None, what
                if isinstance(rule, (AfterValidator, BeforeValidator, PlainValidator, WrapValidator)):
                    assert rule.func is task_type_member, what  # only: a stored task type back to its enum
            todo += _models_in(field.annotation)


def test_every_form_of_every_programme_maps_to_an_event() -> None:
    for definition in programmes():
        for task_type, spec in definition.task_specs.items():
            branches = spec.form.branches().values() if issubclass(spec.form, forms.ChoiceForm) else [spec.form]
            for branch in branches:
                assert branch in ev._COMPLETIONS, f"{definition.name} {task_type}: {branch.__name__} records no event"


def test_an_event_type_registered_later_loads_from_python_and_from_json() -> None:
    @ev.register_event
    class ParcelDelivered(ev.Event):
        type: Literal["ParcelDelivered"] = "ParcelDelivered"
        delivered_on: date

    try:
        row = {"event_id": "e-1", "case_id": "C-1", "seq": 1, "occurred_at": "2026-11-23T09:00:00Z",
               "actor": {"id": "ayse"}, "event": {"type": "ParcelDelivered", "delivered_on": "2026-11-23"}}
        recorded = ev.RecordedEvent.model_validate(row)
        assert recorded.event == ParcelDelivered(delivered_on=date(2026, 11, 23))
        many = TypeAdapter(list[ev.RecordedEvent])
        (again,) = many.validate_json(many.dump_json([recorded]))
        assert again == recorded and json.loads(again.model_dump_json())["event"] == row["event"]
        built = ev.RecordedEvent(event_id="e-2", case_id="C-1", seq=2, occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                                 actor=ev.Actor(id="ayse"), event=ParcelDelivered(delivered_on=date(2026, 11, 24)))
        assert built.type == "ParcelDelivered"
        with pytest.raises(ValueError, match="already registered"):
            @ev.register_event
            class ParcelDelivered(ev.Event):  # noqa: F811 - a second class of the same type
                type: Literal["ParcelDelivered"] = "ParcelDelivered"
    finally:
        ev.unregister_event("ParcelDelivered")
    with pytest.raises(ValidationError, match="unknown event type 'ParcelDelivered'"):
        ev.RecordedEvent.model_validate(row)

    class NotRegistered(ev.Event):
        type: Literal["NotRegistered"] = "NotRegistered"

    with pytest.raises(ValidationError, match="not a registered event type"):
        ev.RecordedEvent(event_id="e-3", case_id="C-1", seq=3, occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
                         actor=ev.Actor(id="ayse"), event=NotRegistered())


def test_a_form_field_without_an_event_field_is_refused_when_the_mapping_is_declared() -> None:
    class PhotoForm(forms.Form):
        taken_on: date
        photographer: str

    with pytest.raises(TypeError, match=r"has no field for PhotoForm\.photographer"):
        @ev.completed_by(PhotoForm)
        class PhotoTaken(ev.TaskCompletion):
            type: Literal["PhotoTaken"] = "PhotoTaken"
            taken_on: date

    with pytest.raises(TypeError, match=r"does not give PhotoFiled\.album"):
        @ev.completed_by(PhotoForm)
        class PhotoFiled(ev.TaskCompletion):
            type: Literal["PhotoFiled"] = "PhotoFiled"
            taken_on: date
            photographer: str
            album: str
