"""Turning service and validation errors into field-level form errors (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from outbound.api.errors import _field
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
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        errors.setdefault(field, message)
    return errors


def parse(model: type[M], data: dict[str, Any], prefix: tuple[Any, ...] = ()) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(validation_errors(exc, prefix)) from exc


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
