"""The programmes this deployment runs: one folder each, one line each below.

A programme is a ``ProgrammeDefinition`` (``definition.py``: the plug-in interface) built in
its own folder: its stages and their labels, task types and specs (forms, roles, SLAs), its
next-step rules, case rules, branches, clocks, the state only it keeps
(``CaseState.programme_data``) and what the read model shows of it.  The engine
(``domain.engine``) asks the registry (``registry.py``) for a case's programme and never
names one; the journey's shared building blocks are in ``travel.py``.

Adding a programme: a folder beside ``resettlement/`` and ``avrr/`` and a ``register`` line
here (and a workflow type in ``workflows/``, one class, if it should not run on the generic
``Case`` workflow).
"""

from __future__ import annotations

from domain.programmes import avrr, family_reunification, resettlement
from domain.programmes.definition import ProgrammeDefinition
from domain.programmes.registry import (
    all_task_specs,
    definition_of,
    profile_of,
    programme_enum,
    programmes,
    register,
    spec_of,
    task_type_enum,
)

register(resettlement.PROGRAMME, *resettlement.TASK_TYPES)
register(avrr.PROGRAMME, *avrr.TASK_TYPES)
register(family_reunification.PROGRAMME, *family_reunification.TASK_TYPES)

# For code written before programmes were plug-ins: the built-in programmes and task types as
# enums, every task spec in one mapping, and each programme's stages and labels.
Programme = programme_enum()
TaskType = task_type_enum()
TASK_SPECS = all_task_specs()
STAGE_LABELS = {p.name: dict(p.stage_labels) for p in programmes()}
RESETTLEMENT_STAGES = resettlement.PROGRAMME.stages
AVRR_STAGES = avrr.PROGRAMME.stages

__all__ = ["ProgrammeDefinition", "definition_of", "profile_of", "programmes", "register", "spec_of"]
