"""Text as search compares it: case-insensitive and without accents or diacritics.

"Ayşe", "AYSE" and "ayse" are one word to a search, and so are Arabic names with or without
their short-vowel marks (harakat).  The projection indexes names folded this way
(``cases.search``) and the case search folds the query the same way.
"""

from __future__ import annotations

import unicodedata

# Letters that carry no combining mark to drop but that people type without their stroke.
_PLAIN = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"})


def fold(text: str) -> str:
    """Lower case, accents and diacritics removed (NFKD, then combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_PLAIN))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_PLAIN)
