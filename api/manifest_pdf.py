"""The movement manifest as a printable PDF (fpdf2: pure Python, see pyproject.toml), from the
same rows as the CSV (``domain.movements.export``).

Names are printed with a Unicode TrueType font (DejaVu Sans, where the system has it: Debian's
``fonts-dejavu-core``, installed in the image), shaped by HarfBuzz (``uharfbuzz``) with fpdf2's
bidirectional text: an Arabic name is printed joined and right to left, as it is written,
not as isolated letters in the wrong order.  Without the font, the PDF's built-in Helvetica
takes Latin-1 only and other letters are printed without their accents (``Ş`` -> ``S``).
Scripts DejaVu has no glyphs for (Chinese, Japanese, Korean) print blank: the CSV has them.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from fpdf import FPDF

from domain.movements.export import ManifestRow
from domain.movements.model import MovementState
from domain.offices import time_zone

logging.getLogger("fontTools").setLevel(logging.WARNING)  # ~30 INFO lines of subsetting per PDF otherwise
_FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
              Path("/usr/local/share/fonts")]
_HEADINGS = ["#", "Case", "Name", "Date of birth", "Sex", "Nationality", "Document", "Seat needs", "Escort",
             "Boarded"]
_WIDTHS = [8, 34, 48, 22, 14, 18, 30, 44, 40, 15]  # mm, landscape A4 (277 mm inside the margins)


def _latin1(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if not unicodedata.combining(ch)).encode("latin-1", "replace").decode("latin-1")


def manifest_pdf(state: MovementState, rows: list[ManifestRow], *, printed_by: str, printed_at: str) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(f"Manifest {state.details.flight_number} {state.movement_id}")
    fonts = next((d for d in _FONT_DIRS if (d / "DejaVuSans.ttf").exists() and (d / "DejaVuSans-Bold.ttf").exists()),
                 None)
    if fonts is not None:
        pdf.add_font("manifest", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("manifest", "B", str(fonts / "DejaVuSans-Bold.ttf"))  # the table's headings
        pdf.set_text_shaping(True)  # joined Arabic letters, right-to-left runs in their order
        family, text = "manifest", (lambda s: s)
    else:
        family, text = "helvetica", _latin1
    pdf.add_page()
    d = state.details
    pdf.set_font(family, size=14)
    pdf.cell(0, 8, text(f"Manifest {d.flight_number} ({d.kind.value.replace('_', ' ')}) · {d.carrier}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    route = " → ".join([d.departure_airport, *(t.airport for t in d.transit), d.arrival_airport])
    local = d.departure_at.astimezone(time_zone(d.departure_time_zone))  # the airport's own clock, as it says
    summary = (f"Movement {state.movement_id} · {route} · departs {local.strftime('%Y-%m-%d %H:%M')} "
               f"{d.departure_time_zone} (UTC{local.strftime('%z')[:3]}:{local.strftime('%z')[3:]})"
               f" · {_count(state.people, 'person', 'people')}, {_count(state.seats_taken, 'seat', 'seats')}"
               f" · status {state.status.value}")
    pdf.multi_cell(0, 5, text(summary), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, text(f"Printed by {printed_by} at {printed_at}. Travel-relevant needs only; no health details."),
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    with pdf.table(col_widths=_WIDTHS, text_align="LEFT", line_height=4.5, first_row_as_headings=True) as table:
        table.row([text(h) for h in _HEADINGS])
        for r in rows:
            table.row([text(v) for v in (str(r.row), r.case_id or r.kind, r.full_name, r.date_of_birth, r.sex,
                                         r.nationality, r.document_number, r.seat, r.escort, r.boarded)])
    return bytes(pdf.output())


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
