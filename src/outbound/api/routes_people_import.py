"""Adding people from a CSV file: every row checked, the good ones added, a report per row."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from outbound.api.deps import CallerDep, DbDep
from outbound.api.errors import _field, message
from outbound.api.schemas import ContactIn, DbId, ImportReportOut, ImportRowOut
from outbound.domain.people_import import MAX_BYTES, problem_words
from outbound.domain.text import TEXT_PATTERN
from outbound.service import people_import
from outbound.service.errors import Invalid
from outbound.service.sequences import get_sequence

router = APIRouter(tags=["enrollments"])


class CsvImportIn(BaseModel):
    """``POST /sequences/{id}/contacts/csv``, a multipart form."""

    model_config = ConfigDict(extra="forbid")
    file: UploadFile = Field(description="A CSV file of up to 5 MB / 10,000 rows")
    mapping: str | None = Field(
        default=None,
        max_length=100_000,
        pattern=TEXT_PATTERN,
        description='JSON: {"column header": "email" | "first_name" | … | "custom.<variable>" '
        "| null}; columns left out keep the mapping guessed from their header (without a "
        'header, name them by number: "1", "2"…)',
    )


def contact_problem(data: dict[str, Any]) -> str | None:
    """Why a row cannot be stored, by the same rules as ``POST …/contacts``, or None."""
    try:
        ContactIn.model_validate(data, strict=False)
    except ValidationError as exc:
        error = exc.errors()[0]
        return problem_words(_field(error.get("loc", ())), message(error))
    return None


def _mapping(text: str | None) -> dict[str, str | None] | list[str] | None:
    if not text or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Invalid("must be JSON: {column name: field}", "mapping") from exc
    if isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        return value
    if isinstance(value, list) and all(v is None or isinstance(v, str) for v in value):
        return [v or "" for v in value]
    raise Invalid(
        'must be an object {"column name": "field" or null} or a list of fields', "mapping"
    )


@router.post("/sequences/{sequence_id}/contacts/csv", response_model=ImportReportOut)
def add_contacts_csv(
    sequence_id: DbId, form: Annotated[CsvImportIn, Form()], db: DbDep, caller: CallerDep
) -> object:
    """Every row is checked before any is added (an email, valid values, no repeats, the names
    the sequence's ATS requires); the good ones are added as ``POST …/contacts`` adds them
    (someone already stored gets the non-empty fields given). The answer says what became
    of each row: added, merged (already in Outbound), already in the sequence, or skipped and
    why."""
    # What was sent is checked first (a 422 naming the field), then whose sequence it is.
    data = form.file.file.read(MAX_BYTES + 1)
    table = people_import.read(data)
    if not table.rows:
        raise Invalid("holds no rows", "file")
    columns = people_import.mapping(table, _mapping(form.mapping))
    with db.read_session() as session:
        get_sequence(session, caller, sequence_id)
    checked = people_import.check(db, caller, sequence_id, table, columns, contact_problem)
    report = people_import.add(db, caller, sequence_id, checked)
    return ImportReportOut(
        **report.counts,
        columns=table.column_names(),
        mapping=columns,
        rows=[ImportRowOut(**r.__dict__) for r in report.rows],
    )
