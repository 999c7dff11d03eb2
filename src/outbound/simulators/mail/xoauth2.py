"""XOAUTH2 for the test and demo SMTP servers (aiosmtpd): a bearer token is accepted only when
the OAuth simulator's introspection endpoint says it is live and issued to that very user.

The exchange is Google's (https://developers.google.com/gmail/imap/xoauth2-protocol):
``AUTH XOAUTH2 base64("user=" user "^Aauth=Bearer " token "^A^A")``; a refused token gets a
``334`` challenge carrying a base64 JSON error, the client answers an empty line, then ``535``.

aiosmtpd offers a mechanism for every ``auth_<NAME>`` method of the handler, so a handler gains
XOAUTH2 by inheriting ``XOAuth2Mixin`` and setting ``xoauth2`` to an ``Introspection``; password
logins keep going through the server's ``authenticator`` as before.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import httpx
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

REFUSED = "535 5.7.8 Username and Password not accepted (XOAUTH2)"
UNAVAILABLE = "454 4.7.0 Temporary authentication failure (token check unavailable)"


def decode_xoauth2(blob: bytes) -> tuple[str, str] | None:
    """(user, token) from a decoded XOAUTH2 initial response, None when malformed."""
    try:
        text = blob.decode()
    except UnicodeDecodeError:
        return None
    fields = dict(part.partition("=")[::2] for part in text.split("\x01") if part)
    user, auth = fields.get("user", ""), fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if not user or scheme.lower() != "bearer" or not token.strip():
        return None
    return user, token.strip()


@dataclass
class Introspection:
    """The OAuth simulator's RFC 7662 endpoint, asked with a registered client's credentials."""

    url: str
    client_id: str
    client_secret: str
    timeout: float = 5.0

    async def user_of(self, token: str) -> str | None:
        """The email a live token was issued to; None for a dead, unknown or refused token."""
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            r = await client.post(
                self.url, data={"token": token}, auth=(self.client_id, self.client_secret)
            )
        if r.status_code != 200:
            return None
        body = r.json()
        if body.get("active") is not True or body.get("token_type", "Bearer") != "Bearer":
            return None
        user = body.get("email") or body.get("username")
        return str(user) if user else None

    async def accepts(self, user: str, token: str) -> bool:
        owner = await self.user_of(token)
        return owner is not None and owner.lower() == user.lower()


class XOAuth2Mixin:
    xoauth2: Introspection | None = None

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if self.xoauth2 is None:
            return AuthResult(
                success=False, handled=False, message="504 5.5.4 XOAUTH2 is not set up"
            )
        if len(args) > 1:
            try:
                blob: Any = base64.b64decode(args[1], validate=True)
            except (binascii.Error, ValueError):
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Can't decode base64"
                )
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        parsed = decode_xoauth2(blob)
        try:
            accepted = parsed is not None and await self.xoauth2.accepts(*parsed)
        except httpx.HTTPError:  # the provider is down: a temporary failure, as Gmail's 454
            return AuthResult(success=False, handled=False, message=UNAVAILABLE)
        if accepted:
            assert parsed is not None
            return AuthResult(success=True, auth_data=parsed[0])
        error = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}
        answer = await server.challenge_auth(json.dumps(error))
        if answer is MISSING:  # the client aborted with "*": aiosmtpd already answered 501
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=REFUSED)
