"""The programme registry: which programmes this deployment runs, by name.

A leaf module (it imports no programme), so the engine can look a case's programme up
without import cycles; ``domain.programmes`` registers the built-in ones.
"""

from __future__ import annotations

from enum import StrEnum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domain.tasks import TaskSpec, register_task_types

if TYPE_CHECKING:
    from domain.programmes.definition import ProgrammeDefinition
    from domain.state import CaseState

_PROGRAMMES: dict[str, ProgrammeDefinition] = {}

GENERIC_WORKFLOW_TYPE = "ProgrammeCase"
"""The workflow type that runs every programme without a type of its own."""


def workflow_types() -> tuple[str, ...]:
    """Every workflow type a case may run as (for listings and the consistency check)."""
    return tuple(dict.fromkeys([*(p.workflow_type for p in _PROGRAMMES.values()), GENERIC_WORKFLOW_TYPE]))


def register(definition: ProgrammeDefinition, *task_types: type[StrEnum]) -> ProgrammeDefinition:
    """Make a programme known (its name, task types and workflow type must be new)."""
    known = _PROGRAMMES.get(definition.name)
    if known is not None:
        if known is definition:
            return definition
        raise ValueError(f"programme {definition.name!r} is already registered")
    if definition.workflow_type != GENERIC_WORKFLOW_TYPE and any(
            p.workflow_type == definition.workflow_type for p in _PROGRAMMES.values()):
        raise ValueError(f"workflow type {definition.workflow_type!r} already runs another programme")
    register_task_types(*task_types)
    _PROGRAMMES[definition.name] = definition
    _forget_derived()
    return definition


def unregister(name: str) -> None:
    """For tests that register a programme of their own."""
    _PROGRAMMES.pop(name, None)
    _forget_derived()


def _forget_derived() -> None:
    _EVENT_CLASSES.clear()


def definition_of(programme: str) -> ProgrammeDefinition:
    try:
        return _PROGRAMMES[programme]
    except KeyError:
        raise ValueError(f"unknown programme {programme!r}; known: {', '.join(_PROGRAMMES)}") from None


def profile_of(state: CaseState) -> ProgrammeDefinition:
    return _PROGRAMMES[state.programme]


def programmes() -> tuple[ProgrammeDefinition, ...]:
    return tuple(_PROGRAMMES.values())


def names() -> tuple[str, ...]:
    return tuple(_PROGRAMMES)


def spec_of(programme: str, task_type: str) -> TaskSpec:
    """The spec of a task type as the programme runs it (a shared task may differ per programme)."""
    return definition_of(programme).task_specs[task_type]


def any_spec(task_type: str) -> TaskSpec:
    """The spec of a task type where the programme is not known (its title and role agree)."""
    for definition in _PROGRAMMES.values():
        spec = definition.task_specs.get(task_type)
        if spec is not None:
            return spec
    raise KeyError(task_type)


def health_task_types() -> frozenset[str]:
    """Task types whose forms carry health details, in any programme (need-to-know)."""
    return frozenset(t for p in _PROGRAMMES.values() for t, spec in p.task_specs.items() if spec.health_data)


def health_event_types() -> frozenset[str]:
    """Event types whose data carries health details: those that complete a task whose spec
    says ``health_data`` (the one place the classification lives; the policy asks here)."""
    if "health" not in _EVENT_CLASSES:
        _EVENT_CLASSES["health"] = _completion_event_types(lambda spec: spec.health_data)
    return _EVENT_CLASSES["health"]


def protection_event_types() -> frozenset[str]:
    """Event types whose data carries protection details (``TaskSpec.protection_data``)."""
    if "protection" not in _EVENT_CLASSES:
        _EVENT_CLASSES["protection"] = _completion_event_types(lambda spec: spec.protection_data)
    return _EVENT_CLASSES["protection"]


_EVENT_CLASSES: dict[str, frozenset[str]] = {}


def _completion_event_types(classified: Callable[[TaskSpec], bool]) -> frozenset[str]:
    from domain import events, forms

    found: set[str] = set()
    for definition in _PROGRAMMES.values():
        for spec in definition.task_specs.values():
            if classified(spec):
                branches = spec.form.branches().values() if isinstance(spec.form, type) and issubclass(
                    spec.form, forms.ChoiceForm) else [spec.form]
                found.update(events.completion_event_type(form).model_fields["type"].default for form in branches)
    return frozenset(found)


def all_task_specs() -> dict[str, TaskSpec]:
    specs: dict[str, TaskSpec] = {}
    for definition in _PROGRAMMES.values():
        for task_type, spec in definition.task_specs.items():
            specs.setdefault(task_type, spec)
    return specs


def task_type_enum() -> Any:
    """Every registered task type as one enum (for code written before programmes were plug-ins)."""
    return StrEnum("TaskType", {t.upper(): t for t in all_task_specs()})  # type: ignore[misc]


def programme_enum() -> Any:
    return StrEnum("Programme", {n.upper(): n for n in _PROGRAMMES})  # type: ignore[misc]
