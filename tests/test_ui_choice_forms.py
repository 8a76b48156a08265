"""The UI's generated form of a form with a choice (issue 12): the outcome, then one group of
fields per outcome, each field marked as its outcome requires it; only the chosen outcome's
fields are sent.  Works without JavaScript (every group shown); ``ui.js`` shows the chosen one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.ui.schema_form import BoundForm
from domain import forms
from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.browser import signed_in
from tests.support.stack import Stack


def _today(days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def test_a_choice_form_is_the_choice_then_a_group_of_fields_per_outcome() -> None:
    form = BoundForm.blank(forms.form_json_schema(forms.RecordDepartureForm))
    sections = [(s.when, s.legend, [f.name for f in s.fields]) for s in form.sections]
    assert sections == [
        ((), None, ["outcome"]),
        (("departed",), "If the outcome is Departed", ["departed_at"]),
        (("no_show", "postponed"), "If the outcome is No show or Postponed", ["reason"]),
        ((), None, ["notes"]),
    ]
    fields = {f.name: f for f in form.fields}
    assert fields["outcome"].is_choice and fields["outcome"].html_required
    # required for its outcomes (the label says so), but not by the browser before the choice is made
    assert fields["reason"].required and not fields["reason"].html_required
    assert not fields["notes"].required and not fields["notes"].when


def test_only_the_chosen_outcomes_fields_are_sent() -> None:
    schema = forms.form_json_schema(forms.RecordVisaForm)
    typed = {"visa_number": "NO-2026-1", "issued_on": "2026-11-20", "decided_on": "2026-11-21",
             "refusal_reason": "Security screening."}
    assert BoundForm.submitted(schema, {"outcome": "refused", **typed}).payload() == {
        "outcome": "refused", "decided_on": "2026-11-21", "refusal_reason": "Security screening."}
    assert BoundForm.submitted(schema, {"outcome": "issued", **typed}).payload() == {
        "outcome": "issued", "visa_number": "NO-2026-1", "issued_on": "2026-11-20"}
    assert BoundForm.submitted(schema, typed).payload() == {}  # no outcome: the validator says so


async def test_the_visa_form_shows_each_outcomes_fields_marked_as_it_requires_them(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral() | {"members": [member("Amina Demir", "1987-05-12", "principal")]}
    case = await driver.advance(await driver.refer(body), Stage.VISA)
    task = next(t for t in case["open_tasks"] if t["task_type"] == "record_visa")
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task['task_id']}")).text)
        legends = [Page.text(e) for e in page.find("legend")]
        assert legends == ["If the outcome is Issued", "If the outcome is Refused"]
        groups = page.find("fieldset")
        assert [(g["data-choice"], g["data-when"]) for g in groups] == [("outcome", "issued"), ("outcome", "refused")]
        for name in ("visa_number", "issued_on", "valid_until", "decided_on", "refusal_reason"):
            control = page.field(name)
            assert "required" not in control and "data-required" in control, name  # ui.js requires the chosen ones
            label = Page.text(page.one("label", for_=control["id"]))
            assert label.endswith("(required)") and "(optional)" not in label, label
        assert "required" in page.field("outcome")
        assert [v for v, _ in page.options("field-outcome") if v] == ["issued", "refused"]

        # issued, without its visa number: the error is at the field, and what was typed stays
        r = await ayse.post(f"/ui/tasks/{task['task_id']}", data={
            "csrf_token": page.csrf, "outcome": "issued", "issued_on": _today(), "valid_until": _today(90)})
        assert r.status_code == 422
        page = Page(r.text)
        assert page.field_error("visa_number") == "Error in Visa number: Please fill this in."
        assert page.field("valid_until")["value"] == _today(90)

        # refused, with a visa number left in the issued group: only the refusal is sent
        done = await ayse.post(f"/ui/tasks/{task['task_id']}", data={
            "csrf_token": page.csrf, "outcome": "refused", "visa_number": "NO-2026-1", "decided_on": _today(),
            "refusal_reason": "Security screening."})
        assert done.status_code == 200 and done.url.path == f"/ui/cases/{case['case_id']}", done.text

    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("ayse"))).json()
    refused: dict[str, Any] = next(e for e in events if e["type"] == "VisaRefused")["data"]
    assert refused["refusal_reason"] == "Security screening." and refused["visa_number"] is None
