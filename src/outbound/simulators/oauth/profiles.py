"""Google and Microsoft as the simulator plays them: paths, claims, quirks, error wording.

Paths are the real ones, under the simulator's base URL:

- Google: authorize ``/o/oauth2/v2/auth`` (accounts.google.com), token ``/token`` and revoke
  ``/revoke`` (oauth2.googleapis.com), userinfo ``/v1/userinfo``
  (openidconnect.googleapis.com), JWKS ``/oauth2/v3/certs``. A refresh token comes only with
  ``access_type=offline``, and only while the client holds no live refresh token for the account
  unless the request says ``prompt=consent``; refreshing does not rotate it.
- Microsoft identity platform v2.0: ``/{tenant}/oauth2/v2.0/authorize`` and ``…/token``
  (login.microsoftonline.com), userinfo ``/oidc/userinfo`` (graph.microsoft.com), JWKS
  ``/{tenant}/discovery/v2.0/keys``; ``{tenant}`` is ``common``, ``organizations`` or the tenant
  id. A refresh token comes with the ``offline_access`` scope, and every refresh answers a new
  one. There is no revocation endpoint (an admin revokes sessions in Entra: ``/_admin``); the
  userinfo has no ``email_verified``.

Both: ``/introspect`` (RFC 7662) is the simulator's own, for the test mail servers; PKCE with S256
is required (both providers accept ``plain``; the simulator refuses it so a client that sends it
fails here first).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from outbound.simulators.oauth.store import Account, AuthorizationRequest, OAuthError, b64_digest


class Provider:
    name: ClassVar[str]
    title: ClassVar[str]
    authorize_path: ClassVar[str]
    token_path: ClassVar[str]
    userinfo_path: ClassVar[str]
    jwks_path: ClassVar[str]
    revoke_path: ClassVar[str | None]
    discovery_paths: ClassVar[tuple[str, ...]]
    introspect_path: ClassVar[str] = "/introspect"
    access_prefix: ClassVar[str]
    refresh_prefix: ClassVar[str]
    code_prefix: ClassVar[str]
    rotates_refresh_tokens: ClassVar[bool]
    mail_scopes: ClassVar[tuple[str, ...]]  # what Outbound asks for to send and read mail

    def __init__(self, tenant_id: str | None = None) -> None:
        self.tenant_id = tenant_id or ""

    # -- where things are ----------------------------------------------------------------
    def tenant_ok(self, tenant: str | None) -> bool:
        return tenant is None

    def path(self, template: str, tenant: str | None = None) -> str:
        return template.replace("{tenant}", tenant or self.tenant_id)

    def issuer(self, base: str) -> str:
        return base

    def discovery(self, base: str, tenant: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "issuer": self.issuer(base),
            "authorization_endpoint": base + self.path(self.authorize_path, tenant),
            "token_endpoint": base + self.path(self.token_path, tenant),
            "userinfo_endpoint": base + self.userinfo_path,
            "jwks_uri": base + self.path(self.jwks_path, tenant),
            "introspection_endpoint": base + self.introspect_path,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile", *self.mail_scopes],
        }
        if self.revoke_path is not None:
            doc["revocation_endpoint"] = base + self.revoke_path
        return doc

    # -- who the user is -----------------------------------------------------------------
    def sub_of(self, email: str) -> str:
        raise NotImplementedError

    def userinfo(self, account: Account, scope: set[str]) -> dict[str, Any]:
        raise NotImplementedError

    def id_token_claims(self, account: Account, scope: set[str]) -> dict[str, Any]:
        raise NotImplementedError

    # -- quirks --------------------------------------------------------------------------
    def wants_refresh_token(self, request: AuthorizationRequest, first_consent: bool) -> bool:
        raise NotImplementedError

    def token_extras(self, expires_in: int) -> dict[str, Any]:
        return {}

    def error_body(self, exc: OAuthError) -> dict[str, Any]:
        return {"error": exc.error, "error_description": exc.description}


class Google(Provider):
    name = "google"
    title = "Google"
    authorize_path = "/o/oauth2/v2/auth"
    token_path = "/token"
    userinfo_path = "/v1/userinfo"
    jwks_path = "/oauth2/v3/certs"
    revoke_path = "/revoke"
    discovery_paths = ("/.well-known/openid-configuration",)
    access_prefix = "ya29.sim-"
    refresh_prefix = "1//sim-"
    code_prefix = "4/sim-"
    rotates_refresh_tokens = False
    mail_scopes = ("https://mail.google.com/",)

    # Google answers a bad code or refresh token with a bare "Bad Request" or this sentence.
    WORDING: ClassVar[dict[str, str]] = {
        "bad_code": "Malformed auth code.",
        "code_reused": "Bad Request",
        "code_expired": "Bad Request",
        "pkce_mismatch": "Bad Request",
        "grant_revoked": "Token has been expired or revoked.",
        "bad_client": "Unauthorized",
    }

    def sub_of(self, email: str) -> str:
        return str(int(hashlib.sha256(email.lower().encode()).hexdigest(), 16))[:21]

    def _identity(self, account: Account, scope: set[str]) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": account.sub}
        if "email" in scope:
            claims.update(email=account.email, email_verified=True)
            domain = account.email.rsplit("@", 1)[-1]
            if domain != "gmail.com":
                claims["hd"] = domain  # a Workspace account's hosted domain
        if "profile" in scope:
            claims.update(
                name=account.name, given_name=account.given_name, family_name=account.family_name
            )
        return claims

    def userinfo(self, account: Account, scope: set[str]) -> dict[str, Any]:
        return self._identity(account, scope)

    def id_token_claims(self, account: Account, scope: set[str]) -> dict[str, Any]:
        return self._identity(account, scope)

    def wants_refresh_token(self, request: AuthorizationRequest, first_consent: bool) -> bool:
        prompts = (request.prompt or "").split()
        return request.access_type == "offline" and (first_consent or "consent" in prompts)

    def error_body(self, exc: OAuthError) -> dict[str, Any]:
        return {
            "error": exc.error,
            "error_description": self.WORDING.get(exc.reason, exc.description),
        }


class Microsoft(Provider):
    name = "microsoft"
    title = "Microsoft"
    authorize_path = "/{tenant}/oauth2/v2.0/authorize"
    token_path = "/{tenant}/oauth2/v2.0/token"
    userinfo_path = "/oidc/userinfo"
    jwks_path = "/{tenant}/discovery/v2.0/keys"
    revoke_path = None
    discovery_paths = (
        "/.well-known/openid-configuration",
        "/{tenant}/v2.0/.well-known/openid-configuration",
    )
    access_prefix = "EwB-sim-"
    refresh_prefix = "M.C5-sim-"
    code_prefix = "M.C5_sim-"
    rotates_refresh_tokens = True
    mail_scopes = (
        "https://outlook.office.com/SMTP.Send",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "offline_access",
    )

    AADSTS: ClassVar[dict[str, tuple[int, str]]] = {
        "bad_code": (9002313, "Invalid request. Request is malformed or invalid."),
        "code_reused": (54005, "OAuth2 Authorization code was already redeemed."),
        "code_expired": (70008, "The provided authorization code or refresh token has expired."),
        "pkce_mismatch": (501481, "The Code_Verifier does not match the code_challenge."),
        "no_verifier": (50148, "The code_verifier does not match the code_challenge."),
        "grant_revoked": (
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
        ),
        "bad_client": (7000215, "Invalid client secret provided."),
        "unknown_client": (700016, "Application was not found in the directory."),
        "redirect_mismatch": (50011, "The redirect URI does not match the application's."),
    }

    def __init__(self, tenant_id: str | None = None) -> None:
        super().__init__(tenant_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, "acme-staffing.test")))

    def tenant_ok(self, tenant: str | None) -> bool:
        return tenant in ("common", "organizations", self.tenant_id)

    def issuer(self, base: str) -> str:
        return f"{base}/{self.tenant_id}/v2.0"

    def discovery(self, base: str, tenant: str | None = None) -> dict[str, Any]:
        doc = super().discovery(base, tenant)
        doc["subject_types_supported"] = ["pairwise"]
        doc["tenant_region_scope"] = "EU"
        return doc

    def sub_of(self, email: str) -> str:
        return b64_digest(("microsoft:" + email.lower()).encode())

    def userinfo(self, account: Account, scope: set[str]) -> dict[str, Any]:
        claims: dict[str, Any] = {"sub": account.sub}
        if "profile" in scope:
            claims.update(
                name=account.name, given_name=account.given_name, family_name=account.family_name
            )
        if "email" in scope:
            claims["email"] = account.email
        return claims

    def id_token_claims(self, account: Account, scope: set[str]) -> dict[str, Any]:
        claims = self.userinfo(account, scope)
        claims.update(
            oid=str(uuid.uuid5(uuid.NAMESPACE_URL, account.email.lower())),
            tid=self.tenant_id,
            preferred_username=account.email,
            ver="2.0",
        )
        return claims

    def wants_refresh_token(self, request: AuthorizationRequest, first_consent: bool) -> bool:
        return "offline_access" in request.scope.split()

    def token_extras(self, expires_in: int) -> dict[str, Any]:
        return {"ext_expires_in": expires_in}

    def error_body(self, exc: OAuthError) -> dict[str, Any]:
        number, text = self.AADSTS.get(exc.reason, (90014, exc.description))
        now = datetime.now(UTC)
        trace = str(uuid.uuid4())
        return {
            "error": exc.error,
            "error_description": f"AADSTS{number}: {text} Trace ID: {trace} "
            f"Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [number],
            "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
            "error_uri": f"https://login.microsoftonline.com/error?code={number}",
        }


PROFILES: dict[str, type[Provider]] = {"google": Google, "microsoft": Microsoft}


def provider_for(profile: str, tenant_id: str | None = None) -> Provider:
    if profile not in PROFILES:
        raise ValueError(f"unknown OAuth profile {profile!r}: one of {', '.join(PROFILES)}")
    return PROFILES[profile](tenant_id)
