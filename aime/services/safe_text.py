"""Text written into exported files: one line, no formulas, no Markdown or HTML that means something."""
from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

# Every character a reader may take as a line or paragraph break (str.splitlines' set, and tabs/vertical space).
_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
# Other C0/C1 controls that some readers show or act on.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Characters with a Markdown meaning inside a line or a table cell; escaped with a backslash (CommonMark).
# Values never start a line (they follow "- **Name:** ", "### ", "| "), so "-", "+", "1." need nothing;
# "(" only matters after "]", which is escaped; "<" and "&" are HTML-escaped before this.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
# OWASP CSV injection: a cell starting with one of these is a formula to Excel, LibreOffice or Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def one_line(text: str | None) -> str:
    """`text` on one line: every line/paragraph separator becomes a space, other controls are dropped."""
    return _CONTROLS.sub("", _BREAKS.sub(" ", text or ""))


def csv_cell(value):
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (a leading ' neutralises it)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def md_text(text: str | None) -> str:
    """Plain text inside Markdown: one line, HTML escaped (no tags survive), Markdown syntax escaped."""
    escaped = html.escape(one_line(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def md_url(url: str | None) -> str | None:
    """An http(s) URL safe inside a Markdown link's (...): percent-encoded so that nothing ends the link."""
    if not url:
        return None
    url = one_line(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&*+,;=%")
