"""Text normalisation used to match names across sources."""
import re
import unicodedata

_SPACES = re.compile(r"\s+")


def plural(count: int, word: str) -> str:
    """'1 play', '2 plays' (English, regular plurals only)."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def normalise(text: str | None) -> str:
    """Case-, accent- and spacing-insensitive key for a name ("Björk " -> "bjork")."""
    if not text:
        return ""
    if text.isascii():  # most names: NFKD leaves ASCII as it is and it has no combining marks
        return _SPACES.sub(" ", text.casefold()).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()
