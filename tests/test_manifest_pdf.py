"""The manifest PDF prints names as they are written: an Arabic name shaped by HarfBuzz (its
letters joined, the run right to left), not as isolated letters in the wrong order.  Pure:
the PDF is built from a movement's state, as the export route does."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from api.manifest_pdf import _FONT_DIRS, manifest_pdf
from domain.model import Actor, ActorKind
from domain.movements import commands as c
from domain.movements.decide import decide, fold
from domain.movements.export import ManifestRow
from domain.movements.model import MovementDetails
from tests.test_movements import _details

ARABIC = "محمد الأحمد"


def _state():  # a created movement: details, no manifest
    now = datetime.now(UTC)
    actor = Actor(kind=ActorKind.USER, id="emre", role="movement_officer", offices=("IST",))
    details = MovementDetails.model_validate(_details(9) | {"departure_at": (now + timedelta(hours=30)).isoformat()})
    events = decide(None, c.CreateMovement(details=details), now, actor)
    return fold(events, None, "MV-0000000000000001")


def _page_text(pdf: bytes) -> bytes:
    """The page's drawing operators (the first content stream): which glyphs go where."""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        if b" Tj" in content:
            return content
    raise AssertionError("no page content in the PDF")


@pytest.mark.skipif(not any((d / "DejaVuSans.ttf").exists() for d in _FONT_DIRS),
                    reason="no DejaVu Sans on this machine (the image installs fonts-dejavu-core)")
def test_an_arabic_name_is_printed_shaped() -> None:
    state = _state()
    rows = [ManifestRow(row=1, kind="passenger", case_id="C-1", member_id="C-1-M1", full_name=ARABIC,
                        date_of_birth="1990-01-01", sex="male", nationality="SY")]
    shaped = manifest_pdf(state, rows, printed_by="emre", printed_at="2026-12-03 20:00")
    assert shaped.startswith(b"%PDF") and len(shaped) > 2_000
    # Shaping draws the run right to left with the joined (initial / medial / final) forms:
    # other glyphs, in another order, than the isolated letters an unshaped run prints.
    import fpdf

    original = fpdf.FPDF.set_text_shaping
    fpdf.FPDF.set_text_shaping = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        unshaped = manifest_pdf(state, rows, printed_by="emre", printed_at="2026-12-03 20:00")
    finally:
        fpdf.FPDF.set_text_shaping = original  # type: ignore[method-assign]
    assert _page_text(shaped) != _page_text(unshaped)
    latin = [r.model_copy(update={"full_name": "Amina Haddad"}) for r in rows]
    plain = manifest_pdf(state, latin, printed_by="emre", printed_at="2026-12-03 20:00")
    assert b" Tj" in _page_text(plain)  # Latin names print as before
