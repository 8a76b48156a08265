"""How a group workflow's Update fails when its pure rules raise something they did not mean
to (a value they did not foresee, or a bug): the command fails, named; the workflow does not."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


def undecidable(exc: Exception) -> ApplicationError:
    """The rules are pure, so they would fail the same way on every retry: fail this command
    (non-retryable, code ``command_failed``), and the workflow stays healthy for every other
    command, instead of its workflow task failing forever (which holds every later command,
    a cancellation too, until a new release).  Deterministic, so it replays the same."""
    return ApplicationError(f"the command could not be decided ({type(exc).__name__}: {exc}); nothing was changed",
                            {"code": "command_failed", "details": []}, type="command_failed", non_retryable=True)
