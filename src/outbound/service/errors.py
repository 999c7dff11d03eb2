"""Errors the service layer raises; the API and CLI turn them into 4xx answers / exit codes."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class Invalid(ServiceError):
    status_code = 422


class Conflict(ServiceError):
    status_code = 409


class AtsRejected(ServiceError):
    """The ATS refused what we sent (e.g. bad credentials on connect)."""

    status_code = 400
