"""Text a person gives Outbound: what may be stored. Pure rules, shared by the REST API's schema,
the web forms and the command line.

Control characters are refused, NUL above all (PostgreSQL cannot store it; SQLite would keep it
silently), and so are lone surrogates (``"\\ud800"`` in JSON is no Unicode text at all). Tab,
newline and carriage return are allowed in multi-line text only (a step's body): anywhere else a
line break is a paste error, or a header injection in an email's subject.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL and C1 controls; the same patterns read as JSON Schema (ECMA-262), by
# Python's re and by Rust's regex.
_CONTROL = r"\u0000-\u001F\u007F-\u009F"
_CONTROL_BUT_BREAKS = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F"
# What trimming removes besides controls (Unicode White_Space), spelled out: engines differ.
_SPACE = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
LINE_PATTERN = f"^[^{_CONTROL}]*$"
TEXT_PATTERN = f"^[^{_CONTROL_BUT_BREAKS}]*$"
# The same with at least one character that is not a space: what survives trimming.
FILLED_LINE_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
FILLED_TEXT_PATTERN = f"^[^{_CONTROL_BUT_BREAKS}]*[^{_CONTROL}{_SPACE}][^{_CONTROL_BUT_BREAKS}]*$"
_LINE_BAD = re.compile(r"[\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]")
_TEXT_BAD = re.compile(r"[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF]")
_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "line break",
    "\r": "carriage return",
    "\x1b": "escape",
    "\x7f": "delete",
}


def _describe(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return f"{code} (half a surrogate pair)"
    name = _NAMES.get(char) or unicodedata.name(char, "")
    return f"{code} ({name})" if name else code


def text_problem(value: str, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored, or None. ``multiline``: tab, newline and CR are fine."""
    bad = (_TEXT_BAD if multiline else _LINE_BAD).search(value)
    if bad is None:
        return None
    what = "control characters" if multiline else "control characters or line breaks"
    return f"must not contain {what} (found {_describe(bad.group())} at position {bad.start()})"
