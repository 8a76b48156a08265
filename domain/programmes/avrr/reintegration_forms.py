"""AVRR's reintegration forms: the plan, each delivery, the monitoring visits, closure."""


from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from domain.forms import (
    CASE_RULE,
    Currency,
    DecisionReason,
    Form,
    HappenedSinceReferral,
)
from domain.model import Notes, ShortText
from domain.text import ShowsRules


class ReintegrationItem(ShowsRules):
    """One item of assistance in a reintegration plan.  An amount and its currency go together."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        # amount and currency: both or neither (null counts as neither)
        "allOf": [
            {"if": {"properties": {"amount": {"not": {"type": "null"}}}, "required": ["amount"]},
             "then": {"properties": {"currency": {"not": {"type": "null"}}}, "required": ["currency"]}},
            {"if": {"properties": {"currency": {"not": {"type": "null"}}}, "required": ["currency"]},
             "then": {"properties": {"amount": {"not": {"type": "null"}}}, "required": ["amount"]}},
        ]})

    kind: Literal["economic", "social", "psychosocial"]
    description: ShortText = Field(examples=["Small business grant: grocery shop in Erbil"])
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = Field(
        default=None, description="For cash or in-kind assistance with a value; with a currency.")
    currency: Currency | None = Field(default=None, description="Required with an amount (and only with one).")

    @model_validator(mode="after")
    def _currency_with_amount(self) -> ReintegrationItem:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together: give both or neither")
        return self


class RecordReintegrationPlanForm(Form):
    """The reintegration plan agreed with the returnee: numbered items, each delivered later."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"agreed_on": "2027-01-10", "partner": "IOM Iraq, Erbil",
         "items": [{"kind": "economic", "description": "Small business grant: grocery shop", "amount": "2000.00",
                    "currency": "USD"},
                   {"kind": "psychosocial", "description": "Six counselling sessions"}]}]})
    agreed_on: HappenedSinceReferral
    partner: ShortText | None = Field(default=None, description="Office or partner at origin delivering the plan.")
    items: list[ReintegrationItem] = Field(min_length=1, max_length=20)
    notes: Notes | None = None


class RecordAssistanceDeliveryForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"item_number": 1, "delivered_on": "2027-02-01", "notes": "Grant paid; shop opened."}]})
    item_number: int = Field(ge=1, le=20, description="Which item of the plan was delivered (1 = the first); an "
                                                      f"item of the plan not delivered yet {CASE_RULE}.")
    delivered_on: HappenedSinceReferral = Field(description=f"Not before the plan was agreed {CASE_RULE}.")
    notes: Notes | None = None


class RecordMonitoringVisitForm(Form):
    """A monitoring visit after return.  Scores run from 0 (not reintegrated) to 1 (sustainably
    reintegrated), as the composite index of IOM's Reintegration Sustainability Survey."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"visited_on": "2027-04-12", "method": "in_person", "reintegration_score": 0.62, "economic_score": 0.5,
         "social_score": 0.7, "psychosocial_score": 0.66}]})
    visited_on: HappenedSinceReferral = Field(description=f"Not before the arrival {CASE_RULE}.")
    method: Literal["in_person", "phone", "video"] = "in_person"
    reintegration_score: float = Field(ge=0, le=1, description="Composite reintegration score, 0 to 1.")
    economic_score: float | None = Field(default=None, ge=0, le=1)
    social_score: float | None = Field(default=None, ge=0, le=1)
    psychosocial_score: float | None = Field(default=None, ge=0, le=1)
    notes: Notes | None = None


class CloseReintegrationForm(Form):
    """Every item of the plan is delivered: the supervisor closes the case, or lets the
    remaining monitoring visits run (the case then closes after the last one)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"decision": "close", "reason": "Plan delivered; business running at the 3-month visit."}]})
    decision: Literal["close", "continue_monitoring"]
    reason: DecisionReason
