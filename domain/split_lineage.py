"""Where a person went when their family was split: member ids stay with the person, and a
case names the cases split off it (``split_into``).

One walk, shared by whatever follows a person across splits (an integration message naming
a member of the case it was referred as, an orientation session's attendee): breadth first
from the case they were last seen in, through each split-off case's own splits, bounded so a
family split many times over cannot make it run long.  Pure: the caller brings the fetch
(the read model, or the cases' workflows).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

Case = TypeVar("Case", bound=Any)  # has case_id, split_into and members (each with member_id)

MAX_FOLLOWED = 50


async def case_holding(start: Case, member_id: str, fetch: Callable[[str], Awaitable[Case | None]],
                       limit: int = MAX_FOLLOWED) -> Case | None:
    """The case split off ``start`` (or off one split off it, ...) that holds ``member_id``
    now; None when no split moved the person (or ``fetch`` gives none of the cases that do)."""
    seen, pending = {start.case_id}, list(start.split_into)
    while pending and len(seen) <= limit:
        case_id = pending.pop(0)
        if case_id in seen:
            continue
        seen.add(case_id)
        case = await fetch(case_id)
        if case is None:
            continue
        if any(m.member_id == member_id for m in case.members):
            return case
        pending += case.split_into
    return None
