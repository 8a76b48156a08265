"""A small HTML reader for the UI tests: every element of a page with its attributes and text,
to assert on structure, not on regexes."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Every element of a page with its attributes and text, to assert on structure, not on regexes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element: dict[str, Any] = {"tag": tag, "text": [], "within": [e.get("id") for e in self._open if e.get("id")]}
        element.update({k: "" if v is None else v for k, v in attrs})
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"].append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if (tag is None or e["tag"] == tag)
                and all(e.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def one(self, tag: str | None = None, **attrs: str) -> dict[str, Any]:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    @staticmethod
    def text(element: dict[str, Any]) -> str:
        return " ".join("".join(element["text"]).split())

    @property
    def body_text(self) -> str:
        return self.text(self.one("body"))

    def controls(self, within: str) -> list[str]:
        """Names of the visible form controls inside the element with id ``within``."""
        return [e["name"] for e in self.elements if e["tag"] in ("input", "select", "textarea")
                and within in e["within"] and e.get("type") != "hidden"]

    def field(self, name: str) -> dict[str, Any]:
        """The form control submitting ``name``."""
        controls = [e for e in self.elements if e["tag"] in ("input", "select", "textarea") and e.get("name") == name]
        assert len(controls) == 1, f"expected one control named {name}, found {len(controls)}"
        return controls[0]

    def options(self, select_id: str) -> list[tuple[str, bool]]:
        """(value, selected) of each option of a select."""
        return [(o.get("value", ""), "selected" in o) for o in self.elements
                if o["tag"] == "option" and select_id in o["within"]]

    def field_error(self, name: str) -> str:
        return self.text(self.one("p", id=f"field-{name}-error"))

    @property
    def csrf(self) -> str:
        return self.find("input", name="csrf_token")[0]["value"]
