"""What the UI's creation forms share (a movement, an orientation session): the form's own
submission token, which becomes the creation's ``Idempotency-Key`` (a double click or a
reload creates one, as the API does for a client that sends the same key again), and the
time zones a form offers.

Each form is generated from the JSON Schema of the model the API route takes
(``api.ui.schema_form``): the page calls the route's own function with the validated model."""

from __future__ import annotations

import re
import secrets
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from fastapi import Request

from api.ui.formatting import utc_offset
from api.ui.i18n import gettext as _
from api.ui.schema_form import Option

_SUBMISSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def submission_token(posted: Any = None) -> str:
    """The form's token as it came back (kept while the form returns refused), or a new one."""
    token = str(posted.get("submission", "")) if posted is not None else ""
    return token if _SUBMISSION.match(token) else secrets.token_urlsafe(18)


def use_idempotency_key(request: Request, key: str) -> None:
    """This request's ``Idempotency-Key``, as an API client would send it: the id of what it
    creates is derived from it (``api.group_commands.new_group_id``)."""
    headers = request.scope["headers"]
    headers[:] = [(n, v) for n, v in headers if n != b"idempotency-key"] + [(b"idempotency-key", key.encode())]


def already_created(message: str) -> str:
    """Said when a form that created something already comes back changed (the browser's Back):
    the page then carries a new token, so the next submission creates another."""
    return _("This form already created one (%(what)s). It is a new form now: submit it again to create "
             "another, or open the one it created from the list.", what=message)


@cache
def time_zones() -> tuple[Option, ...]:
    """Every IANA zone a place can be in (the API takes any; the legacy aliases are left out)."""
    names = sorted(z for z in available_timezones()
                   if z == "UTC" or ("/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))))
    return tuple(Option(z, z.replace("_", " ")) for z in names)


def offset_of(zone: str) -> str:
    """Today's UTC offset of a zone (a date-time field's default offset), or "" for none."""
    try:
        return utc_offset(zone) if zone else ""
    except ValueError:
        return ""
