"""HTML forms generated from a task form's JSON Schema, and submissions turned back into JSON.

The UI builds each task's form from the JSON Schema the API serves for the task
(``domain.forms.form_json_schema`` of the form its programme uses) - so a field added to a
form model appears in the UI without template changes, and what the UI submits is validated
by the same model, in the same function, as an API call.  This module only translates:
strings from the browser into the JSON types the schema describes, and validation errors
back onto their fields.

A form whose fields depend on a choice (``oneOf`` branches with a ``discriminator``, e.g. a
visa's ``outcome``) is shown as the choice, the fields every branch has, and one group of
fields per branch ("If the outcome is Issued"), each marked required as its branch requires
it.  Without JavaScript every group is shown (a browser cannot make a field required only
for one choice, so branch fields carry no ``required`` attribute) and only the chosen
branch's fields are submitted; with JavaScript (``ui.js``) only the chosen branch's group is
shown, and its required fields are required by the browser too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from api.ui.formatting import humanize

FieldKind = Literal["text", "textarea", "date", "datetime", "number", "checkbox", "confirm", "select"]
TZ_SUFFIX = "__tz"
TEXTAREA_MIN_LENGTH = 500

# UTC offsets in use around the world; a date-time field needs one (the forms take aware times).
UTC_OFFSETS = [
    "-12:00", "-11:00", "-10:00", "-09:30", "-09:00", "-08:00", "-07:00", "-06:00", "-05:00", "-04:00", "-03:30",
    "-03:00", "-02:00", "-01:00", "+00:00", "+01:00", "+02:00", "+03:00", "+03:30", "+04:00", "+04:30", "+05:00",
    "+05:30", "+05:45", "+06:00", "+06:30", "+07:00", "+08:00", "+08:45", "+09:00", "+09:30", "+10:00", "+10:30",
    "+11:00", "+12:00", "+12:45", "+13:00", "+14:00",
]


@dataclass(frozen=True)
class Option:
    value: Any
    label: str

    @property
    def text(self) -> str:
        """The option's value as the browser sends it back."""
        return _as_text(self.value)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind
    required: bool
    nullable: bool = False
    help: str | None = None
    options: tuple[Option, ...] = ()
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    integer: bool = False
    initial: str = ""
    # For a form with a choice: the choice values this field belongs to (empty: every choice),
    # and whether this field is the choice itself.
    when: tuple[str, ...] = ()
    is_choice: bool = False

    @property
    def id(self) -> str:
        return f"field-{self.name}"

    @property
    def html_required(self) -> bool:
        """Required by the browser: only a field of every choice (the page cannot know the
        choice before it is made; ``ui.js`` requires the chosen branch's fields)."""
        return self.required and not self.when

    @property
    def tz_name(self) -> str:
        return self.name + TZ_SUFFIX


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref`` (into ``$defs``) and single-item ``allOf``; sibling keys win (a field's
    own description and default override its type's)."""
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        target = _resolve(root.get("$defs", {})[ref.removeprefix("#/$defs/")], root)
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        target = _resolve(node["allOf"][0], root)
        return {**target, **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def _label(name: str, node: dict[str, Any]) -> str:
    auto_title = name.replace("_", " ").title()
    title = node.get("title")
    return title if title and title != auto_title else humanize(name)


def _field(name: str, prop: dict[str, Any], root: dict[str, Any], required: bool) -> FormField:
    node = _resolve(prop, root)
    nullable = False
    variants = node.get("anyOf")
    if isinstance(variants, list):
        non_null = [v for v in variants if v.get("type") != "null"]
        nullable = len(non_null) < len(variants)
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        node = {**_resolve(non_null[0], root), **outer} if len(non_null) == 1 else {**outer, "type": "string"}
    base = dict(name=name, label=_label(name, node), required=required, nullable=nullable,
                help=node.get("description"))
    default = node.get("default")
    kind: FieldKind
    if node.get("type") == "boolean":
        if node.get("const") is True:
            return FormField(kind="confirm", **base)
        return FormField(kind="checkbox", initial=_as_text(bool(default)), **base)
    if "const" in node or "enum" in node:
        values = [node["const"]] if "const" in node else list(node["enum"])
        initial = node["const"] if "const" in node else default
        return FormField(kind="select", options=tuple(Option(v, humanize(v)) for v in values),
                         initial=_as_text(initial), **base)
    if node.get("type") in ("integer", "number"):
        return FormField(kind="number", integer=node["type"] == "integer", initial=_as_text(default), **base)
    fmt = node.get("format")
    max_length = node.get("maxLength")
    if fmt == "date":
        kind = "date"
    elif fmt == "date-time":
        kind = "datetime"
    elif max_length is not None and max_length >= TEXTAREA_MIN_LENGTH:
        kind = "textarea"
    else:
        kind = "text"
    return FormField(kind=kind, pattern=node.get("pattern"), min_length=node.get("minLength"),
                     max_length=max_length, initial=_as_text(default), **base)


@dataclass(frozen=True)
class Choice:
    """The field a form's branches depend on, and each branch's fields: {value: (names, required)}."""

    name: str
    branches: dict[str, tuple[frozenset[str], frozenset[str]]]


def choice_of(schema: dict[str, Any]) -> Choice | None:
    """The choice of a ``oneOf`` schema with a ``discriminator`` (None for a plain object)."""
    key = (schema.get("discriminator") or {}).get("propertyName")
    options = schema.get("oneOf")
    if not isinstance(key, str) or not isinstance(options, list):
        return None
    branches: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for option in options:
        branch = _resolve(option, schema)
        tag = _resolve(branch.get("properties", {}).get(key, {}), schema)
        values = [tag["const"]] if "const" in tag else list(tag.get("enum", []))
        for value in values:
            branches[value] = (frozenset(branch.get("properties", {})), frozenset(branch.get("required", [])))
    return Choice(key, branches) if branches else None


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """The fields of an object schema, in the model's declaration order; for a form with a
    choice, each field knows which choices it belongs to and whether they require it."""
    choice = choice_of(schema)
    properties = dict(schema.get("properties", {}))
    if choice is not None:  # any branch field the schema's summary of properties does not list
        for option in schema["oneOf"]:
            for name, prop in _resolve(option, schema).get("properties", {}).items():
                properties.setdefault(name, prop)
    required = set(schema.get("required", []))
    fields = []
    for name, prop in properties.items():
        when: tuple[str, ...] = ()
        needed = name in required
        if choice is not None and name != choice.name:
            having = tuple(v for v, (names, _) in choice.branches.items() if name in names)
            if len(having) < len(choice.branches):
                when = having
                needed = bool(having) and all(name in choice.branches[v][1] for v in having)
        field_ = _field(name, prop, schema, needed)
        if choice is not None:
            field_ = replace(field_, when=when, is_choice=name == choice.name)
        fields.append(field_)
    return fields


@dataclass(frozen=True)
class Section:
    """Consecutive fields shown together: all of them (``when`` empty), or a choice's group."""

    when: tuple[str, ...]
    legend: str | None
    fields: list[FormField]


@dataclass
class BoundForm:
    """A form with the values to show and the errors to show next to each field."""

    fields: list[FormField]
    description: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    @classmethod
    def blank(cls, schema: dict[str, Any]) -> BoundForm:
        fields = form_fields(schema)
        return cls(fields, schema.get("description"), {f.name: f.initial for f in fields if f.initial})

    @classmethod
    def submitted(cls, schema: dict[str, Any], data: Mapping[str, Any]) -> BoundForm:
        """What the browser sent, as text, so an invalid form is shown again as the user left it."""
        form = cls(form_fields(schema), schema.get("description"))
        for f in form.fields:
            names = (f.name, f.tz_name) if f.kind == "datetime" else (f.name,)
            for name in names:
                value = data.get(name)
                if isinstance(value, str) and value != "":
                    form.values[name] = value if f.kind == "textarea" else value.strip()
        return form

    @property
    def choice(self) -> FormField | None:
        return next((f for f in self.fields if f.is_choice), None)

    @property
    def chosen(self) -> str | None:
        """The value of the form's choice as submitted (None: no choice, or none made)."""
        choice = self.choice
        if choice is None:
            return None
        raw = self.values.get(choice.name, "")
        return next((o.text for o in choice.options if o.text == raw), None)

    @property
    def sections(self) -> list[Section]:
        """The fields in order, a choice's groups each in a section of their own."""
        sections: list[Section] = []
        choice = self.choice
        for f in self.fields:
            if sections and sections[-1].when == f.when:
                sections[-1].fields.append(f)
                continue
            legend = None
            if f.when and choice is not None:
                labels = [next((o.label for o in choice.options if o.text == v), v) for v in f.when]
                legend = f"If the {choice.label.lower()} is " + " or ".join(labels)
            sections.append(Section(f.when, legend, [f]))
        return sections

    def payload(self) -> dict[str, Any]:
        """The JSON the task's form model validates.  An empty optional field is left out (or
        sent as null if the schema requires it but allows null); an empty required field is
        left out so the validator names it as missing.  Of a choice's groups, only the chosen
        one is sent (what was typed into another group is kept on the page, not sent)."""
        result: dict[str, Any] = {}
        chosen = self.chosen
        for f in self.fields:
            if f.when and chosen not in f.when:
                continue
            raw = self.values.get(f.name, "")
            if f.kind == "checkbox":
                result[f.name] = raw in ("true", "on")
            elif f.kind == "confirm":
                if raw in ("true", "on"):
                    result[f.name] = True
            elif raw == "":
                if f.required and f.nullable:
                    result[f.name] = None
            elif f.kind == "select":
                result[f.name] = next((o.value for o in f.options if o.text == raw), raw)
            elif f.kind == "number":
                result[f.name] = _number(raw, f.integer)
            elif f.kind == "datetime":
                result[f.name] = _datetime(raw, self.values.get(f.tz_name, ""))
            else:
                result[f.name] = raw
        return result

    def add_errors(self, details: list[dict[str, Any]]) -> None:
        """Put each validation error (``{"field": "a.b", "reason": ...}``) next to its field."""
        names = {f.name for f in self.fields}
        for detail in details:
            reason = str(detail.get("reason", "invalid")).removeprefix("Value error, ")
            name = str(detail.get("field", "")).split(".")[0]
            if name in names:
                self.errors.setdefault(name, []).append(reason)
            else:
                self.form_errors.append(reason)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.form_errors)

    def label_of(self, name: str) -> str:
        return next((f.label for f in self.fields if f.name == name), name)


def _number(raw: str, integer: bool) -> Any:
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        return raw  # the validator names the field and says what it expects


def _datetime(local: str, offset: str) -> str:
    """``2026-12-10T09:40`` + ``+03:00``; without an offset the value stays naive and the
    form model refuses it ("should have timezone info")."""
    return local + offset if offset in UTC_OFFSETS else local
