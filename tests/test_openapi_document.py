"""The served OpenAPI document describes what partners send: the integration message's body
(read by the route itself, so that a refused message is kept) is documented as the model it
is validated against, and every schema reference in the document resolves."""

from __future__ import annotations

import json
import re

import httpx


async def test_the_integration_message_body_is_documented_and_every_reference_resolves(
        http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    body = document["paths"]["/api/v1/integrations/messages"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    schemas = document["components"]["schemas"]
    message = schemas[ref.rsplit("/", 1)[-1]]
    assert {"event_type", "referral", "case_id", "external_referral_id", "member_id", "form"} <= set(message["properties"])
    assert message.get("additionalProperties") is False and "event_type" in message["required"]
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert referenced <= set(schemas), sorted(referenced - set(schemas))
