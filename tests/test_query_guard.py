"""An unknown query parameter, or one given twice that takes one value, is a 422 naming it:
it was ignored (``/audit?user=emre`` answered everyone's rows; the parameter is ``actor``)."""

from __future__ import annotations

import httpx

from tests.support.driver import CaseDriver


async def test_an_unknown_or_repeated_query_parameter_is_refused_naming_it(http: httpx.AsyncClient,
                                                                           driver: CaseDriver) -> None:
    fatma = await driver.login("fatma")
    r = await http.get("/api/v1/audit", params={"user": "emre"}, headers=fatma)
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["field"] == "query.user" and "actor" in detail["allowed"], detail
    assert (await http.get("/api/v1/audit", params={"actor": "emre"}, headers=fatma)).status_code == 200

    twice = await http.get("/api/v1/cases?office=IST&office=IZM", headers=fatma)
    assert twice.status_code == 422 and twice.json()["error"]["details"][0]["field"] == "query.office", twice.text
    assert (await http.get("/api/v1/cases?office=IST&limit=5", headers=fatma)).status_code == 200
    # Paths without query parameters, and the probes, are as they were.
    assert (await http.get("/api/v1/cases", headers=fatma)).status_code == 200
    assert (await http.get("/livez")).status_code == 200
