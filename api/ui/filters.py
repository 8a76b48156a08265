"""The filters of the inbox and the case list, as typed query models.

A filter form submits every select, chosen or not, so "" means "no filter" here (the
JSON API would call it invalid).  The models also build the links of the next page, so
paging keeps the filters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.case_filters import CaseListFilter
from api.ui.formatting import humanize
from domain.model import CaseStatus, Priority, ProgrammeName, Role, Stage
from domain.programmes.registry import programmes


def _both_labels(stage: Stage) -> str:
    labels = [p.stage_labels.get(stage) for p in programmes()]
    unique = [label for i, label in enumerate(labels) if label and label not in labels[:i]]
    return " / ".join(unique)


# The choices of the filter selects: (value, label).  Stages carry resettlement's labels,
# the only programme referable yet.
CHOICES: dict[str, list[tuple[str, str]]] = {
    # Both programmes share the stage vocabulary; the labels name both where they differ.
    "stage": [(s.value, _both_labels(s)) for s in Stage],
    "status": [(s.value, humanize(s.value)) for s in CaseStatus],
    "priority": [(p.value, humanize(p.value)) for p in Priority],
    "role": [(r.value, humanize(r.value)) for r in Role if r != Role.ADMIN],
}

Code = Annotated[str | None, Field(max_length=32)]
Cursor = Annotated[str | None, Field(max_length=500)]


class _Filters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
        return None if value == "" else value

    def link(self, path: str, **changes: Any) -> str:
        """``path`` with these filters (and ``changes``) as its query string."""
        values = {**self.model_dump(mode="json"), **changes}
        query = urlencode({k: v for k, v in values.items() if v not in (None, "")})
        return f"{path}?{query}" if query else path

    @property
    def active(self) -> bool:
        return any(v is not None for k, v in self.model_dump().items() if k != "cursor")


class InboxFilters(_Filters):
    stage: Stage | None = None
    overdue: Literal["yes", "no"] | None = None
    assignee: Literal["me", "unassigned"] | None = None
    role: Role | None = None
    office: Code = None
    cursor: Cursor = None

    @property
    def overdue_flag(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.overdue or "")


class CaseFilters(_Filters, CaseListFilter):
    """The form's filters, and those of a report's links (programme, countries, dates:
    ``CaseListFilter``), which the form keeps as hidden fields."""

    q: Annotated[str | None, Field(max_length=200)] = None
    stage: Stage | None = None
    status: CaseStatus | None = None
    office: Code = None
    priority: Priority | None = None
    programme: ProgrammeName | None = None
    cursor: Cursor = None

    def report_filter(self) -> CaseListFilter:
        return CaseListFilter(**{k: getattr(self, k) for k in CaseListFilter.model_fields})

    def hidden(self) -> dict[str, str]:
        """The report filters (and programme) as the form's hidden fields."""
        values = self.report_filter().query()
        return values | ({"programme": self.programme} if self.programme else {})
