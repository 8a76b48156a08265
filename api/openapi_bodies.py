"""Request bodies a route reads itself (to keep what it refuses: the integration inbox records
a refused message with its errors), documented in ``/openapi.json`` as the model they are
validated against, so partners and generated clients see every field and rule.

``raw_json_body(Model)`` is the route's ``openapi_extra``; ``install(app)`` adds the models'
schemas to the document's components (FastAPI only adds the models it validates itself)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_MODELS: dict[str, type[BaseModel]] = {}


def raw_json_body(model: type[BaseModel], description: str | None = None) -> dict[str, Any]:
    _MODELS[model.__name__] = model
    body: dict[str, Any] = {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _MODELS.items():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for inner, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(inner, definition)
            schemas.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
