"""Encryption of secrets at rest (ATS credentials, mailbox passwords) and token hashing."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Fernet wrapper: values go in as JSON-able dicts and come out the same."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:  # wrong OUTBOUND_SECRET_KEY, never the secret itself
            raise ValueError("stored credentials cannot be decrypted with this secret key") from exc
        return data


def new_api_token() -> str:
    return "obt_" + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # API tokens carry 256 random bits, so a fast hash is enough and lets us look them up by
    # index; argon2 is kept for human-chosen passwords.
    return hashlib.sha256(token.encode()).hexdigest()
