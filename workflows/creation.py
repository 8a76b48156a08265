"""The end of a group workflow (a movement, an orientation session) whose creation never came.

A movement or session is created by update-with-start: Temporal starts the workflow, then its
``create`` / ``schedule`` Update is judged.  A creation the rules refuse leaves a workflow
with nothing in it (no row in PostgreSQL, no state); the same Idempotency-Key sent again
reuses it, which is why it cannot end at once.  From this patch on, such a workflow waits a
grace period (``nothing_created_grace_seconds`` of its input, the API's setting) for a
creation and then ends with no result, instead of waiting forever: the API starts a new run
of the same id when that key comes back (``api.group_commands.GroupCommands.ended_empty``).

Recorded histories decide as before: a workflow that was created has no new command (the
first wait is a condition, not a timer), and one recorded empty before the patch waits on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

NOTHING_CREATED_PATCH = "nothing-created-ends-v1"
DEFAULT_GRACE_SECONDS = 3600


async def created_in_time(created: Callable[[], bool], grace_seconds: int) -> bool:
    """Whether the workflow holds something (at once, or once its creation's handler is done);
    False when, ``grace_seconds`` after the last creation attempt ended, nothing was created."""
    await workflow.wait_condition(lambda: created() or workflow.all_handlers_finished())
    while not created():
        if not workflow.patched(NOTHING_CREATED_PATCH):
            return True  # an empty workflow recorded before the patch waits as it did
        try:
            await workflow.wait_condition(created, timeout=timedelta(seconds=grace_seconds))
        except asyncio.TimeoutError:
            if workflow.all_handlers_finished():
                return False
            await workflow.wait_condition(lambda: created() or workflow.all_handlers_finished())
    return True
