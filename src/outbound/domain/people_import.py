"""Reading people from a CSV file or pasted lines, and checking each row before anyone is added.

Pure: text in, rows with their outcome out. The stdlib ``csv`` module is enough (no library):
it reads quoted fields with commas and line breaks in them, ``csv.Sniffer`` tells a comma from
a semicolon or a tab, and a file of 10,000 rows is a few megabytes read in one pass.

A column maps to a contact field (``email``, ``first_name``…), to a custom variable
(``custom.<name>``, as the field mapping names them) or to nothing (``""``: not imported).
Line numbers are the file's own: blank lines and the header row count, as an editor shows them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from outbound.domain.text import text_problem

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
CUSTOM = "custom."  # a column imported as a custom variable: "custom.<name>"
SKIP = ""  # a column not imported

# The contact fields a column can fill, with the words a person reads.
FIELD_LABELS: dict[str, str] = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "company": "Company",
    "title": "Job title",
    "phone": "Phone",
    "linkedin_url": "LinkedIn URL",
    "location": "Location",
}
# Header names as people write them, compared without case, spaces or punctuation.
_HEADER_NAMES: dict[str, str] = {
    name: target
    for target, names in {
        "email": ("email", "e-mail", "email address", "e-mail address", "mail", "work email"),
        "first_name": ("first name", "firstname", "first", "given name", "forename"),
        "last_name": ("last name", "lastname", "last", "surname", "family name"),
        "company": ("company", "company name", "organisation", "organization", "employer"),
        "title": ("title", "job title", "position", "role"),
        "phone": ("phone", "phone number", "mobile", "telephone"),
        "linkedin_url": ("linkedin", "linkedin url", "linkedin profile", "linkedin_url"),
        "location": ("location", "city"),
    }.items()
    for name in names
}
# Pasted lines without a header: the order the paste box has always asked for.
POSITIONAL = ("email", "first_name", "last_name", "company", "title")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_VARIABLE_NAME = 64


class ImportRefused(ValueError):
    """The whole input cannot be read (too big, not text, a bad mapping): nothing is added."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Table:
    """What was read: the header (None when the first row holds data) and each data row with
    the line it starts on."""

    header: list[str] | None
    rows: list[tuple[int, list[str]]]
    delimiter: str

    @property
    def width(self) -> int:
        return max([len(self.header or [])] + [len(cells) for _, cells in self.rows])

    def column_names(self) -> list[str]:
        """What each column is called on screen: its header, else "Column 3"."""
        header = self.header or []
        return [
            header[i].strip() if i < len(header) and header[i].strip() else f"Column {i + 1}"
            for i in range(self.width)
        ]

    def samples(self, count: int = 3) -> list[list[str]]:
        """The first rows' values per column, for the mapping step's preview."""
        return [
            [cells[i] if i < len(cells) else "" for _, cells in self.rows[:count]]
            for i in range(self.width)
        ]


def decode(data: bytes) -> str:
    """Bytes of a file as text: UTF-8 (a byte-order mark dropped), else Windows-1252, which is
    what Excel writes on most Western machines."""
    if len(data) > MAX_BYTES:
        raise ImportRefused("file", f"is {len(data) / 1e6:.1f} MB: at most 5 MB per file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_KNOWN = {_normal(name): target for name, target in _HEADER_NAMES.items()}


def header_target(name: str) -> str | None:
    """The contact field a header names, or None."""
    return _KNOWN.get(_normal(name))


def variable_name(header: str, index: int) -> str:
    """A custom variable named after its header, as a step can use it: {{favourite_colour}}."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", header.strip()).strip("_").lower()
    if not name:
        return f"column_{index + 1}"
    if name[0].isdigit():
        name = "_" + name
    return name[:MAX_VARIABLE_NAME]


def _delimiter(text: str) -> str:
    sample = "\n".join(line for line in text.splitlines()[:20] if line.strip())
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:  # one column (emails only), or nothing to tell from
        return ","


def _looks_like_header(cells: list[str], rest: list[list[str]]) -> bool:
    """A first row is a header when it holds no email address and names a field (or the rows
    under it hold the addresses it lacks)."""
    if any("@" in cell for cell in cells):
        return False
    if any(header_target(cell) for cell in cells):
        return True
    return any("@" in cell for row in rest[:5] for cell in row)


def read_table(text: str, field: str = "file") -> Table:
    """Rows of a CSV file or of pasted lines (``field`` "contacts"), with their real line
    numbers."""
    text = text.removeprefix("\ufeff")
    problem = text_problem(text, multiline=True)
    if problem and field == "file":  # a spreadsheet's binary (.xlsx) uploaded by mistake
        raise ImportRefused("file", f"is not a CSV file: it {problem} (save it as CSV UTF-8)")
    if problem:  # pasted: say which line, as a person finds it in the box
        for number, line in enumerate(text.splitlines(), start=1):
            if line_problem := text_problem(line, multiline=True):
                raise ImportRefused(field, f"line {number}: {line_problem}")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if any(cells):
                rows.append((start, cells))
            start = reader.line_num + 1
            if len(rows) > MAX_ROWS + 1:  # the header may be one of them
                raise ImportRefused("file", f"has more than {MAX_ROWS:,} rows: split it")
    except csv.Error as exc:
        raise ImportRefused("file", f"line {reader.line_num}: {exc}") from exc
    if not rows:
        return Table(None, [], delimiter)
    first = rows[0][1]
    if _looks_like_header(first, [cells for _, cells in rows[1:]]):
        return Table(first, rows[1:], delimiter)
    if len(rows) > MAX_ROWS:
        raise ImportRefused("file", f"has more than {MAX_ROWS:,} rows: split it")
    return Table(None, rows, delimiter)


def guess_mapping(table: Table) -> list[str]:
    """Each column's target: by header name (anything else a custom variable named after it),
    or, without a header, the paste box's order and extra columns left out. A field named by
    two headers goes to the first; the second is left out."""
    width = table.width
    if table.header is None:
        return [POSITIONAL[i] if i < len(POSITIONAL) else SKIP for i in range(width)]
    names = table.column_names()
    mapping: list[str] = []
    for i, name in enumerate(names):
        target = header_target(name) or CUSTOM + variable_name(name, i)
        mapping.append(SKIP if target in mapping else target)
    return mapping


def mapping_from_names(table: Table, chosen: dict[str, str | None]) -> list[str]:
    """A mapping given as {column name or number: target}; columns not named keep their guess."""
    names = table.column_names()
    mapping = guess_mapping(table)
    for key, target in chosen.items():
        if key in names:
            index = names.index(key)
        elif key.isascii() and key.isdigit() and 1 <= int(key) <= len(names):
            index = int(key) - 1
        else:
            raise ImportRefused("mapping", f"no column is named {key[:80]!r}")
        mapping[index] = target or SKIP
    return mapping


def check_mapping(mapping: Sequence[str]) -> None:
    """One column holds the email; no field filled from two columns; variable names a step can
    use."""
    seen: dict[str, int] = {}
    for i, target in enumerate(mapping):
        if target == SKIP:
            continue
        if target.startswith(CUSTOM):
            name = target.removeprefix(CUSTOM)
            if not _VARIABLE_NAME.match(name) or len(name) > MAX_VARIABLE_NAME:
                raise ImportRefused(
                    "mapping",
                    f"column {i + 1}: a variable name holds letters, digits and _ "
                    f"(not starting with a digit): {name[:80]!r}",
                )
        elif target not in FIELD_LABELS:
            raise ImportRefused("mapping", f"column {i + 1}: unknown field {target[:80]!r}")
        if target in seen:
            label = FIELD_LABELS.get(target, target)
            raise ImportRefused(
                "mapping", f"columns {seen[target] + 1} and {i + 1} are both mapped to {label}"
            )
        seen[target] = i
    if "email" not in seen:
        raise ImportRefused("mapping", "choose the column that holds the email address")


def person(cells: list[str], mapping: Sequence[str]) -> dict[str, Any]:
    """One row as a contact: empty cells are left out (they never blank a stored value)."""
    data: dict[str, Any] = {}
    variables: dict[str, str] = {}
    for cell, target in zip(cells, mapping, strict=False):
        if not cell or target == SKIP:
            continue
        if target.startswith(CUSTOM):
            variables[target.removeprefix(CUSTOM)] = cell
        else:
            data[target] = cell
    if variables:
        data["custom_variables"] = variables
    return data


@dataclass
class Row:
    """One data row and what becomes of it."""

    line: int
    email: str
    data: dict[str, Any]
    reason: str | None = None  # why it is skipped, in plain words; None: it can be added

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class Checked:
    rows: list[Row] = field(default_factory=list)

    @property
    def good(self) -> list[Row]:
        return [r for r in self.rows if r.ok]

    @property
    def bad(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]


# Why a contact cannot be stored (the API's own rules), or None: given by the caller.
ContactCheck = Callable[[dict[str, Any]], str | None]


def check_rows(table: Table, mapping: Sequence[str], check: ContactCheck) -> Checked:
    """Every row's outcome at once: no email, an invalid value, a repeat of an earlier line."""
    check_mapping(mapping)
    out = Checked()
    first_line: dict[str, int] = {}
    for line, cells in table.rows:
        data = person(cells, mapping)
        email = str(data.get("email", ""))
        row = Row(line, email, data)
        out.rows.append(row)
        if not email:
            row.reason = "no email address"
            continue
        problem = check(data)
        if problem:
            row.reason = problem
            continue
        key = email.strip().lower()
        if key in first_line:
            row.reason = f"repeats line {first_line[key]} (same email)"
            continue
        first_line[key] = line
    return out


def missing_required(
    data: dict[str, Any], stored: dict[str, Any] | None, required: Sequence[str]
) -> list[str]:
    """The fields the ATS requires that neither the row nor the stored contact fills."""
    stored = stored or {}
    return [f for f in required if not data.get(f) and not stored.get(f)]


def required_reason(title: str, missing: Sequence[str], required: Sequence[str]) -> str:
    """ "Crelate needs a first and last name (last name is empty)"."""
    words = [FIELD_LABELS.get(f, f).lower() for f in required]
    if all(w.endswith(" name") for w in words) and len(words) > 1:
        needs = " and ".join(w.removesuffix(" name") for w in words) + " name"
    else:
        needs = " and ".join(words)
    empty = " and ".join(FIELD_LABELS.get(f, f).lower() for f in missing)
    verb = "is" if len(missing) == 1 else "are"
    return f"{title} needs a {needs} ({empty} {verb} empty)"


def problem_words(field: str, message: str) -> str:
    """A rule a value broke, for the report: "first name: must be at most 200 characters"."""
    name, _, variable = field.partition(".")
    if name == "custom_variables" and variable:
        label = f"variable {variable}"
    else:
        label = FIELD_LABELS.get(name, name.replace("_", " ")).lower()
    if name == "email":
        label = "invalid email"
    too_long = _AT_MOST.search(message)
    if too_long:  # pydantic's "should have at most 200 items after validation, not 250"
        return f"{label}: too long (at most {too_long.group(1)} characters)"
    return f"{label}: {message[:1].lower() + message[1:]}"


_AT_MOST = re.compile(r"at most (\d+) (?:items|characters)")
