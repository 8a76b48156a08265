"""Generated forms in plain words, and lists in them (issue 17): no developer text in any served
form (ISO formats, character classes, snake_case values), validator messages reworded, fields
required with another marked so, and the AVRR reintegration plan entered row by row in the UI."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import domain.programmes  # noqa: F401 - registers the built-in programmes
from api.ui.plain_errors import plain_reason
from api.ui.schema_form import BoundForm, FormField
from domain import forms
from domain.model import Stage
from domain.programmes.avrr.reintegration_forms import RecordReintegrationPlanForm
from domain.programmes.registry import programmes, spec_of
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack

SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")


def _served() -> list[tuple[str, str]]:
    return [(d.name, t) for d in programmes() for t in d.task_specs]


def _all_fields(form: BoundForm) -> list[FormField]:
    return [f for top in form.fields for f in (top, *top.items)]


@pytest.mark.parametrize(("programme", "task_type"), _served())
def test_no_served_form_shows_developer_text(programme: str, task_type: str) -> None:
    form = BoundForm.blank(forms.form_json_schema(spec_of(programme, task_type).form))
    for f in _all_fields(form):
        shown = " ".join([f.label, f.help or "", *(o.label for o in f.options)])
        assert "ISO 3166" not in shown and "ISO 639" not in shown and "U+" not in shown, (f.name, shown)
        assert not SNAKE.search(f.label) and not any(SNAKE.search(o.label) for o in f.options), (f.name, shown)
        if f.name in ("nationality", "country", "language", "currency") or f.name.endswith(("_country", "_language")):
            assert f.kind == "select" and len(f.options) > 100, f.name  # chosen by name, never typed as a code


def test_validator_messages_are_reworded() -> None:
    code = FormField(name="visa_number", label="Visa number", kind="text", required=True, rule="3-40 characters.")
    choice = FormField(name="outcome", label="Outcome", kind="select", required=True)
    assert plain_reason("Field required", code) == "Please fill this in."
    assert plain_reason("Field required", choice) == "Please choose one."
    assert plain_reason("String should match pattern '^[A-Z]{3}$'", code) == "Not in the expected form. 3-40 characters."
    assert plain_reason("Input should be a valid date or datetime, input is too short", code).startswith("Enter a date")
    assert plain_reason("Input should be greater than or equal to 0", code) == "Must be 0 or more."
    labels = {"destination_country": "Destination country"}
    assert plain_reason("Value error, destination_country is required for resettlement", None, labels) == \
        "Destination country is required for resettlement."
    assert plain_reason("outcome 'treatment_required' needs a follow-up", None) == \
        "Outcome “Treatment required” needs a follow-up."


def test_the_plan_is_a_list_whose_currency_is_required_with_an_amount() -> None:
    form = BoundForm.blank(forms.form_json_schema(RecordReintegrationPlanForm))
    items = next(f for f in form.fields if f.name == "items")
    assert items.kind == "list" and items.min_items == 1 and form.rows["items"] == 1
    by_name = {f.name: f for f in items.items}
    assert by_name["currency"].needed_with == "Amount" and not by_name["currency"].required
    assert by_name["currency"].kind == "select" and ("USD", "US Dollar (USD)") in [(o.value, o.label) for o in by_name["currency"].options]
    assert by_name["amount"].kind == "number"
    # an airport code typed in lower case is sent in capitals
    book = BoundForm.submitted(forms.form_json_schema(forms.BookMovementForm), {"departure_airport": "ist"})
    assert next(f for f in book.fields if f.name == "departure_airport").upper
    assert book.payload()["departure_airport"] == "IST"


def _avrr_referral() -> dict[str, Any]:
    return referral(programme="avrr", destination_country=None, origin_country="IQ") | {
        "members": [member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ")]}


def _form_data(page: Page, form_id: str) -> dict[str, str]:
    data: dict[str, str] = {"csrf_token": page.csrf}
    for e in page.elements:
        if form_id not in e["within"] or not e.get("name"):
            continue
        if e["tag"] == "input" and e.get("type") not in ("checkbox", "submit"):
            data[e["name"]] = e.get("value", "")
        elif e["tag"] == "textarea":
            data[e["name"]] = Page.text(e)
        elif e["tag"] == "select":
            chosen = [o for o in page.elements if o["tag"] == "option" and e.get("id") in o["within"] and "selected" in o]
            data[e["name"]] = chosen[0].get("value", "") if chosen else ""
    return data


async def test_a_caseworker_enters_a_reintegration_plan_row_by_row(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(_avrr_referral()), until=Stage.REINTEGRATION)
    task = next(t for t in case["open_tasks"] if t["task_type"] == "record_reintegration_plan")
    url = f"/ui/tasks/{task['task_id']}"
    today = datetime.now(UTC).date().isoformat()
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(url)).text)
        assert "items-0-description" in page.controls("task-form")
        assert Page.text(page.one("button", name="_add")).startswith("Add item")
        first = {"agreed_on": today, "partner": "IOM Iraq, Erbil", "items-0-kind": "economic",
                 "items-0-description": "Small business grant", "items-0-amount": "2000", "items-0-currency": ""}
        page = Page((await ayse.post(url, data=_form_data(page, "task-form") | first | {"_add": "items"})).text)
        assert page.field("items-0-description")["value"] == "Small business grant"
        assert "items-1-description" in page.controls("task-form")
        label = Page.text(next(e for e in page.find("label") if e.get("for") == "field-items-0-currency"))
        assert "(required with amount)" in label
        second = {"items-1-kind": "psychosocial", "items-1-description": "Six counselling sessions"}
        refused = await ayse.post(url, data=_form_data(page, "task-form") | second)
        assert refused.status_code == 422  # an amount without its currency: said on the item's row
        page = Page(refused.text)
        assert "Amount and currency go together" in page.text(page.one("p", id="field-items-0-error"))
        assert "Value error" not in page.body_text
        done = await ayse.post(url, data=_form_data(page, "task-form") | {"items-0-currency": "USD"})
        assert done.status_code == 200 and done.url.path == f"/ui/cases/{case['case_id']}"
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    plan = next(e for e in events if e["type"] == "ReintegrationPlanRecorded")["data"]
    assert [(i["kind"], i["description"], i.get("currency")) for i in plan["items"]] == [
        ("economic", "Small business grant", "USD"), ("psychosocial", "Six counselling sessions", None)]
