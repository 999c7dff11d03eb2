"""Adding people read from a CSV file or pasted lines: every row checked first (the ATS's own
rules included), the good ones added chunk by chunk, and a report that says, per row, what
became of it.

A row without a name the sequence's ATS requires is reported and not added. The guides make
adding and syncing one event ("contacts sync … whenever they are added to a sequence") and
"Resync" never revisits a synced contact, so someone added without a name would be emailed
while the ATS refuses their record: the recruiter's record of the outreach would be missing
with nothing to show for it but a sync error. Fixing the row and adding it again costs less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from outbound.connectors.registry import ATS
from outbound.domain import people_import as rules
from outbound.domain.people_import import Checked, ContactCheck, ImportRefused, Table
from outbound.domain.sync_rules import sync_allowed
from outbound.service import enrollments
from outbound.service.caller import Caller
from outbound.service.contacts import normalise_email
from outbound.service.errors import Invalid
from outbound.service.sequences import get_sequence
from outbound.store.db import Database
from outbound.store.models import Contact

# Stored contacts read per query when checking names (bounded IN lists).
LOOKUP_CHUNK = 500

OUTCOMES = ("added", "merged", "already_in_sequence", "skipped")


@dataclass(frozen=True)
class RowReport:
    line: int
    email: str
    outcome: str  # one of OUTCOMES
    note: str = ""  # skipped: why; merged / already in the sequence: what was updated


@dataclass
class ImportReport:
    rows: list[RowReport] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: self.count(outcome) for outcome in OUTCOMES}

    @property
    def skipped(self) -> list[RowReport]:
        return [r for r in self.rows if r.outcome == "skipped"]


def read(data: bytes | str, field: str = "file") -> Table:
    """A file's bytes or pasted text (``field`` "contacts") as rows; a 422 on ``field`` when
    it cannot be read."""
    try:
        text = rules.decode(data) if isinstance(data, bytes) else data
        return rules.read_table(text, field)
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc


def mapping(table: Table, chosen: dict[str, str | None] | Sequence[str] | None) -> list[str]:
    """The columns' targets: guessed, or as chosen (a list per column, or by column name)."""
    try:
        if chosen is None:
            result = rules.guess_mapping(table)
        elif isinstance(chosen, dict):
            result = rules.mapping_from_names(table, chosen)
        else:
            result = [str(t or "") for t in chosen][: table.width]
            result += [rules.SKIP] * (table.width - len(result))
        rules.check_mapping(result)
        return result
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc


@dataclass(frozen=True)
class AtsRule:
    """What the ATS this sequence syncs to requires of each person, if anything."""

    title: str
    fields: tuple[str, ...]

    def sentence(self) -> str:
        return rules.required_reason(self.title, [], self.fields).split(" (")[0]


def ats_rule(db: Database, caller: Caller, sequence_id: int) -> AtsRule | None:
    with db.read_session() as session:
        seq = get_sequence(session, caller, sequence_id)
        snapshot = enrollments.current_snapshot(session, seq)
    if not sync_allowed(snapshot) or snapshot is None:
        return None
    spec = ATS.get(snapshot["provider"])
    if spec is None or not spec.required_person_fields:
        return None
    return AtsRule(spec.title, spec.required_person_fields)


def check(
    db: Database,
    caller: Caller,
    sequence_id: int,
    table: Table,
    columns: Sequence[str],
    contact_check: ContactCheck,
) -> Checked:
    """Every row's outcome before anything is added: the file's own problems, then the names
    the ATS requires (a stored contact's names count: re-adding them by email is enough)."""
    try:
        checked = rules.check_rows(table, columns, contact_check)
    except ImportRefused as exc:
        raise Invalid(exc.message, exc.field) from exc
    rule = ats_rule(db, caller, sequence_id)
    if rule is None:
        return checked
    lacking = [r for r in checked.good if rules.missing_required(r.data, None, rule.fields)]
    for start in range(0, len(lacking), LOOKUP_CHUNK):
        chunk = lacking[start : start + LOOKUP_CHUNK]
        stored = _stored(db, caller, [normalise_email(r.email) for r in chunk], rule.fields)
        for row in chunk:
            missing = rules.missing_required(
                row.data, stored.get(normalise_email(row.email)), rule.fields
            )
            if missing:
                row.reason = rules.required_reason(rule.title, missing, rule.fields)
    return checked


def _stored(
    db: Database, caller: Caller, emails: list[str], names: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    columns = [getattr(Contact, n) for n in names]
    with db.read_session() as session:
        rows = session.execute(
            select(Contact.email, *columns).where(
                Contact.team_id == caller.team_id, Contact.email.in_(emails)
            )
        ).all()
    return {row.email: dict(zip(names, row[1:], strict=True)) for row in rows}


def add(
    db: Database,
    caller: Caller,
    sequence_id: int,
    checked: Checked,
    progress: enrollments.Progress | None = None,
) -> ImportReport:
    """Add the good rows (chunks that commit as they go) and say what became of every row."""
    good = checked.good
    result = enrollments.AddResult(0, 0, [])
    if good:
        result = enrollments.add_contacts_in_chunks(
            db, caller, sequence_id, [r.data for r in good], progress=progress
        )
    report = ImportReport()
    for row in checked.rows:
        if row.reason is not None:
            report.rows.append(RowReport(row.line, row.email, "skipped", row.reason))
            continue
        key = normalise_email(row.email)
        updated = _updated_words(result.merged.get(key, ()))
        if key in result.present:
            report.rows.append(RowReport(row.line, row.email, "already_in_sequence", updated))
        elif key in result.merged:
            report.rows.append(
                RowReport(row.line, row.email, "merged", updated or "nothing new to update")
            )
        else:
            report.rows.append(RowReport(row.line, row.email, "added"))
    return report


def _updated_words(fields: Sequence[str]) -> str:
    if not fields:
        return ""
    labels = {**rules.FIELD_LABELS, "custom_variables": "custom variables"}
    return "updated " + ", ".join(labels.get(f, f).lower() for f in fields)
