"""A query parameter the route does not take, or one it takes once given twice, is refused
naming it, instead of being ignored: ``GET /api/v1/audit?user=emre`` (the parameter is
``actor``) answered everyone's rows, which a supervisor could take for emre's, and
``?office=IST&office=IZM`` silently kept the last.  A dependency of every API router
(``api/app.py``): it runs after routing, so it knows the route's own parameters."""

from __future__ import annotations

from fastapi import Request, params
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from api.errors import ApiError


_DECLARED = "_itinera_query_parameters"


def _declared(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """The route's query parameters (by the name a client sends) and those that take a list
    (kept per route: routes live as long as the app)."""
    found: tuple[frozenset[str], frozenset[str]] | None = getattr(route, _DECLARED, None)
    if found is None:
        fields = [f for f in get_flat_params(route.dependant) if isinstance(f.field_info, params.Query)]
        found = (frozenset(f.alias for f in fields),
                 frozenset(f.alias for f in fields if field_annotation_is_sequence(f.field_info.annotation)))
        setattr(route, _DECLARED, found)
    return found


async def known_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    names, lists = _declared(route)
    given = request.query_params
    details = [{"field": f"query.{k}", "reason": "not a parameter of this route", "allowed": sorted(names)}
               for k in sorted(set(given.keys()) - names)]
    details += [{"field": f"query.{k}", "reason": f"given {len(given.getlist(k))} times; it takes one value"}
                for k in sorted(set(given.keys()) & (names - lists)) if len(given.getlist(k)) > 1]
    if details:
        raise ApiError(422, "invalid_request", "the query is invalid: "
                       + "; ".join(f"{d['field']}: {d['reason']}" for d in details), details)
