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

A list of objects (``type: array`` of an object, e.g. a family's members or a plan's items)
is one group of fields per row, named ``<list>-<row>-<field>``, with buttons that add and
remove rows: they post the form back (``row_action``) and the page comes back with one row
more or less and everything typed kept, so it works without JavaScript.

Everything shown is in plain words: codes (countries, languages, currencies) are chosen from
lists of names (``api.ui.code_lists``), enum values read as words, rules written for
developers (the text rules' character classes) are left out of the help, and the
validator's messages are said in plain language (``api.ui.plain_errors``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from api.ui.code_lists import code_list
from api.ui.formatting import humanize
from api.ui.plain_errors import plain_help, plain_reason

FieldKind = Literal["text", "textarea", "date", "datetime", "number", "checkbox", "confirm", "select", "list"]
ROW_MARK = "_row"  # a hidden input per row: a row left empty is still a row
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
    # A code typed in capitals (an airport): what is typed is upper-cased.
    upper: bool = False
    # What its format rule says in words (shown for a value that does not match its pattern).
    rule: str | None = None
    # Required only together with another field of the form ("with an amount").
    needed_with: str | None = None
    # A list: the fields of one row, and how many rows it takes.
    items: tuple[FormField, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    row_label: str = "Row"
    scalar_items: bool = False  # a list of plain values (its row has one field, "value")
    single: bool = False  # an object (e.g. a referral's sponsor): one row of its fields, sent as an object
    # A date-time typed as the wall clock of the IANA zone chosen in another field of the form
    # (a flight's departure in its airport's zone): no offset to pick, the zone's on that day.
    local_to: str | None = None

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

    def in_row(self, list_name: str, row: int) -> FormField:
        """This item field as the control of row ``row`` of the list ``list_name``."""
        return replace(self, name=row_key(list_name, row, self.name))


def _changed(f: FormField, changes: dict[str, Any]) -> FormField:
    """``f`` with ``changes``; a group of fields (an object, a list's rows) shown only for some
    choices passes that on to its fields, so that the browser does not require them while
    another choice is made (a resettlement referral names no sponsor)."""
    changed = replace(f, **changes)
    if "when" in changes and changed.items:
        changed = replace(changed, items=tuple(replace(i, when=changed.when) for i in changed.items))
    return changed


def row_key(list_name: str, row: int, name: str | None = None) -> str:
    return f"{list_name}-{row}" + (f"-{name}" if name else "")


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


_CLASS_NAME = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+$")


def _label(name: str, node: dict[str, Any]) -> str:
    """The schema's title where a person wrote one; else the field's name in words.  The title
    of a referenced model or enum is its class name ("ProtectionStatus"): not a label."""
    auto_title = name.replace("_", " ").title()
    title = node.get("title")
    return title if title and title != auto_title and not _CLASS_NAME.match(title) else humanize(name)


def _choice_help(node: dict[str, Any], root: dict[str, Any]) -> str | None:
    """A choice's description in words.  The schema says what each value does for developers
    ("cleared: cleared until clearance_valid_until; treatment_required: ..."); a person reads
    "Cleared: cleared until clearance valid until. Treatment required: ...".  None when the
    description is not in that shape."""
    text, values = node.get("description"), node.get("enum")
    if not text or not values:
        return None
    labels = {n: _label(n, _resolve(p, root)).lower() for n, p in (root.get("properties") or {}).items() if "_" in n}
    parts = []
    for part in text.split("; "):
        value, sep, said = part.partition(": ")
        if not sep or value not in values:
            return None
        for name_, label in sorted(labels.items(), key=lambda p: -len(p[0])):
            said = re.sub(rf"\b{re.escape(name_)}\b", label, said)
        parts.append(f"{humanize(value)}: {said}")
    return ". ".join(parts) + "."


def _field(name: str, prop: dict[str, Any], root: dict[str, Any], required: bool) -> FormField:
    node = _resolve(prop, root)
    nullable = False
    codes = None
    variants = node.get("anyOf")
    if isinstance(variants, list):
        non_null = [v for v in variants if v.get("type") != "null"]
        nullable = len(non_null) < len(variants)
        outer = {k: v for k, v in node.items() if k != "anyOf"}
        codes = next((c for c in (code_list(_resolve(v, root)) for v in non_null) if c), None)
        numeric = next((v for v in non_null if v.get("type") in ("integer", "number")), None)
        if len(non_null) == 1:
            node = {**_resolve(non_null[0], root), **outer}
        elif numeric is not None:  # a decimal: a number, or its exact text
            node = {**numeric, **outer}
        else:
            node = {**outer, "type": "string"}
    codes = codes or code_list(node)
    base = dict(name=name, label=_label(name, node), required=required, nullable=nullable,
                help=_choice_help(node, root) or plain_help(node.get("description"), coded=codes is not None))
    default = node.get("default")
    kind: FieldKind
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _list_field(name, node, root, base)
    if node.get("type") == "object" and node.get("properties"):
        # An object: its fields as the one row of a list that neither grows nor shrinks.
        return FormField(kind="list", items=_object_items(node, root), min_items=1, max_items=1,
                         row_label=base["label"], single=True, **base)
    if codes is not None:
        return FormField(kind="select", options=tuple(Option(c, n) for c, n in codes), initial=_as_text(default),
                         **base)
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
    pattern = node.get("pattern")
    upper = bool(pattern) and "A-Z" in pattern and "a-z" not in pattern
    return FormField(kind=kind, pattern=pattern, min_length=node.get("minLength"), upper=upper,
                     max_length=max_length, initial=_as_text(default), rule=_rule_of(node), **base)


def _rule_of(node: dict[str, Any]) -> str | None:
    """The plain words of a string's format rule: its description, unless that is a text rule."""
    return plain_help(node.get("description"), coded=False) or None


def _needed_with(item: dict[str, Any]) -> dict[str, str]:
    """Fields an object's ``allOf`` of ``if``/``then`` makes required when another is given:
    {field: the field that needs it}."""
    needed: dict[str, str] = {}
    for rule in item.get("allOf", []) if isinstance(item.get("allOf"), list) else []:
        given = (rule.get("if") or {}).get("required") or []
        then = (rule.get("then") or {}).get("required") or []
        for name in then:
            if given:
                needed[name] = given[0]
    return needed


def _object_items(item: dict[str, Any], root: dict[str, Any]) -> tuple[FormField, ...]:
    """The fields of an object (a list's row, or an object field's one row)."""
    required = set(item.get("required", []))
    needed = _needed_with(item)
    labels = {n: _label(n, _resolve(p, root)) for n, p in item.get("properties", {}).items()}
    return tuple(replace(_field(n, p, root, n in required),
                         needed_with=labels.get(needed[n]) if n in needed else None)
                 for n, p in item.get("properties", {}).items())


def _list_field(name: str, node: dict[str, Any], root: dict[str, Any], base: dict[str, Any]) -> FormField:
    """A list of objects: the fields of one row; a list of plain values is one row field."""
    item = _resolve(node["items"], root)
    if item.get("type") == "object" or "properties" in item:
        items = _object_items(item, root)
    else:
        items = (_field("value", item, root, True),)
        base = {**base, "scalar_items": True}
    label = base["label"]
    row_label = label[:-1] if label.endswith("s") and not label.endswith("ss") else label  # "Members" -> "Member"
    return FormField(kind="list", items=items, min_items=int(node.get("minItems", 0)),  # type: ignore[arg-type]
                     max_items=node.get("maxItems"), row_label=row_label, **base)


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
        if prop.get("readOnly"):  # derived by the server (a movement's arrival_country): not an input
            continue
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
    """A form with the values to show and the errors to show next to each field.

    ``values`` is flat, as the browser sends it: a list's fields are keyed ``<list>-<row>-<field>``
    and ``rows`` says how many rows each list shows (numbered 0..n-1)."""

    fields: list[FormField]
    description: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @classmethod
    def blank(cls, schema: dict[str, Any]) -> BoundForm:
        fields = form_fields(schema)
        form = cls(fields, plain_help(schema.get("description"), coded=False),
                   {f.name: f.initial for f in fields if f.initial and f.kind != "list"})
        for f in fields:
            if f.kind == "list":
                form.rows[f.name] = max(f.min_items, 1)
                for row in range(form.rows[f.name]):
                    form._initial_row(f, row)
        return form

    def _initial_row(self, lst: FormField, row: int) -> None:
        for item in lst.items:
            if item.initial:
                self.values[row_key(lst.name, row, item.name)] = item.initial

    @classmethod
    def submitted(cls, schema: dict[str, Any], data: Mapping[str, Any]) -> BoundForm:
        """What the browser sent, as text, so an invalid form is shown again as the user left it.
        A list's rows are renumbered 0..n-1 in the order they were shown."""
        form = cls(form_fields(schema), plain_help(schema.get("description"), coded=False))
        for f in form.fields:
            if f.kind == "list":
                form._take_rows(f, data)
                continue
            form._take(f, f.name, data)
        return form

    def _take(self, f: FormField, sent_as: str, data: Mapping[str, Any], key: str | None = None) -> None:
        key = key or f.name
        pairs = ((sent_as, key), (sent_as + TZ_SUFFIX, key + TZ_SUFFIX)) if f.kind == "datetime" else ((sent_as, key),)
        for name, target in pairs:
            value = data.get(name)
            if isinstance(value, str) and value != "":
                self.values[target] = value if f.kind == "textarea" else value.strip()

    def _take_rows(self, lst: FormField, data: Mapping[str, Any]) -> None:
        shown = sorted({int(k.split("-")[1]) for k in data if isinstance(k, str) and k.startswith(lst.name + "-")
                        and k.count("-") >= 2 and k.split("-")[1].isdigit() and len(k.split("-")[1]) <= 3})
        for new, old in enumerate(shown):
            for item in lst.items:
                self._take(item, row_key(lst.name, old, item.name), data, row_key(lst.name, new, item.name))
        self.rows[lst.name] = len(shown)

    def row_action(self, data: Mapping[str, Any]) -> bool:
        """Apply an "add a row" / "remove row n" button (``_add=<list>``, ``_remove=<list>-<n>``);
        True if the post was one (the form is shown again, nothing is submitted)."""
        lists = {f.name: f for f in self.fields if f.kind == "list"}
        add, remove = str(data.get("_add", "")), str(data.get("_remove", ""))
        if add in lists:
            lst, count = lists[add], self.rows.get(add, 0)
            if lst.max_items is None or count < lst.max_items:
                self._initial_row(lst, count)
                self.rows[add] = count + 1
            return True
        name, _, row = remove.rpartition("-")
        if name in lists and row.isdigit():
            self._drop_row(lists[name], int(row))
            return True
        return False

    def _drop_row(self, lst: FormField, row: int) -> None:
        count = self.rows.get(lst.name, 0)
        if not 0 <= row < count:
            return
        for r in range(row, count):
            for item in lst.items:
                for suffix in ("", TZ_SUFFIX):
                    here, below = row_key(lst.name, r, item.name) + suffix, row_key(lst.name, r + 1, item.name) + suffix
                    if below in self.values:
                        self.values[here] = self.values[below]
                    else:
                        self.values.pop(here, None)
        self.rows[lst.name] = count - 1

    def row_fields(self, lst: FormField) -> list[tuple[int, list[FormField]]]:
        """Each row of a list: its number and its fields, named for the row."""
        return [(row, [item.in_row(lst.name, row) for item in lst.items]) for row in range(self.rows.get(lst.name, 0))]

    def with_field(self, name: str, **changes: Any) -> BoundForm:
        """The same form with one field changed (a page that knows more than the schema, e.g.
        the offices a user may refer to)."""
        self.fields = [_changed(f, changes) if f.name == name else f for f in self.fields]
        return self

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
            if f.kind == "list":
                rows = [self._values_of(f.items, lambda n, r=row: row_key(f.name, r, n))
                        for row in range(self.rows.get(f.name, 0))]
                if f.single:  # an object: its row, or nothing when left empty and not required
                    filled = rows[0] if rows and any(v not in (None, False) for v in rows[0].values()) else None
                    if filled is not None or f.required:
                        result[f.name] = filled or {}
                    continue
                result[f.name] = [r.get("value") for r in rows] if f.scalar_items else rows
                continue
            result.update(self._values_of([f], lambda n: n))
        return result

    def _values_of(self, fields: list[FormField] | tuple[FormField, ...], key: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for f in fields:
            name = key(f.name)
            raw = self.values.get(name, "")
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
            elif f.kind == "datetime" and f.local_to:
                result[f.name] = _local_datetime(raw, self.values.get(f.local_to, ""))
            elif f.kind == "datetime":
                result[f.name] = _datetime(raw, self.values.get(name + TZ_SUFFIX, ""))
            else:
                result[f.name] = raw.upper() if f.upper else raw
        return result

    def add_errors(self, details: list[dict[str, Any]]) -> None:
        """Put each validation error (``{"field": "a.b", "reason": ...}``) next to its field, in
        plain words: a list item's field error next to that row's field (``members.1.full_name``),
        an error of a whole row (``items.0``) at the top of the row."""
        by_name = {f.name: f for f in self.fields}
        for detail in details:
            path = str(detail.get("field", "")).removeprefix("body.").split(".")
            reason = str(detail.get("reason", "invalid"))
            top = by_name.get(path[0])
            if top is not None and top.kind == "list" and top.single and len(path) > 1:
                item = next((i for i in top.items if i.name == path[1]), None)
                key = row_key(top.name, 0, item.name if item else None)
                self.errors.setdefault(key, []).append(plain_reason(reason, item, self._labels(top.items)))
            elif top is not None and top.kind == "list" and len(path) > 1 and path[1].isdigit():
                item = next((i for i in top.items if len(path) > 2 and i.name == path[2]), None)
                key = row_key(top.name, int(path[1]), item.name if item else None)
                self.errors.setdefault(key, []).append(plain_reason(reason, item, self._labels(top.items)))
            elif top is not None:
                self.errors.setdefault(top.name, []).append(plain_reason(reason, top, self._labels(self.fields)))
            else:
                self.form_errors.append(plain_reason(reason, None, self._labels(self.fields)))

    @staticmethod
    def _labels(fields: list[FormField] | tuple[FormField, ...]) -> dict[str, str]:
        labels = {f.name: f.label for f in fields}
        for f in fields:
            labels.update({i.name: i.label for i in f.items})
        return labels

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.form_errors)

    def label_of(self, name: str) -> str:
        """A field's label; a row's field is ``Member 2: Full name``."""
        for f in self.fields:
            if f.name == name:
                return f.label
            if f.kind == "list" and name.startswith(f.name + "-"):
                _, row, *rest = name[len(f.name):].split("-", 2)
                item = next((i.label for i in f.items if rest and i.name == rest[0]), None)
                # an object (the sponsor) is one row: "Sponsor", never "Sponsor 1"
                where = f"{f.row_label} {int(row) + 1}" if row.isdigit() and not f.single else f.label
                return f"{where}: {item}" if item else where
        return name


def _number(raw: str, integer: bool) -> Any:
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        return raw  # the validator names the field and says what it expects


def _datetime(local: str, offset: str) -> str:
    """``2026-12-10T09:40`` + ``+03:00``; without an offset the value stays naive and the
    form model refuses it ("should have timezone info")."""
    return local + offset if offset in UTC_OFFSETS else local


def _local_datetime(local: str, zone: str) -> str:
    """``2027-07-10T10:00`` in ``Europe/Oslo``: that wall clock there, with the offset the zone
    has on that day (+02:00 in July), whatever today's is.  Unreadable, or no usable zone: as
    typed (naive), and the form model refuses it naming the field."""
    try:
        moment = datetime.fromisoformat(local)
        return moment.replace(tzinfo=ZoneInfo(zone)).isoformat() if moment.tzinfo is None else local
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return local
