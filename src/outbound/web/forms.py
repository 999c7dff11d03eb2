"""Turning service and validation errors into field-level form errors (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from outbound.api.errors import _field, message
from outbound.domain.text import text_problem
from outbound.service.errors import ServiceError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def validation_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        field = _field((*prefix, *e.get("loc", ())))
        errors.setdefault(field, message(e))
    return errors


def parse(model: type[M], data: dict[str, Any], prefix: tuple[Any, ...] = ()) -> M:
    """The REST API's input model, checked leniently: a form's values are all text ("587" for
    a port), where the API's JSON must be of the type its schema states. Every other rule
    (sizes, patterns, control characters) is the API's."""
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise FormInvalid(validation_errors(exc, prefix)) from exc


def form_text(form: Any, name: str, *, multiline: bool = False, max_length: int = 0) -> str:
    """A text field of a form that no input model checks, trimmed: a control character (or a
    line break, unless ``multiline``) or more than ``max_length`` characters is a form error
    on the field, shown beside it as any other."""
    value = str(form.get(name) or "").strip()
    problem = text_problem(value, multiline)
    if problem is None and max_length and len(value) > max_length:
        problem = f"must be at most {max_length:,} characters"
    if problem:
        raise FormInvalid({name: problem[:1].upper() + problem[1:] + "."})
    return value


def attempt(action: Callable[[], T]) -> T:
    """Run a service call; its error becomes a form error on the field it names."""
    try:
        return action()
    except ServiceError as exc:
        raise FormInvalid({exc.field or "form": exc.message}) from exc


def checkbox(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def whole_number(value: object) -> int | None:
    """A form value that is an id or a count: ASCII digits within a database id, else None
    (str.isdigit also takes "²", which int() refuses)."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)
