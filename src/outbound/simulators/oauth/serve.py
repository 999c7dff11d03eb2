"""Serve the simulator from a terminal: ``python -m outbound.simulators.oauth --profile google``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from outbound.simulators.oauth.app import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URIS,
    create_oauth_app,
)
from outbound.simulators.oauth.profiles import PROFILES


def serve(
    profile: str,
    host: str = "127.0.0.1",
    port: int = 9400,
    redirect_uris: Sequence[str] = (),
    accounts: Sequence[str] = (),
) -> None:
    """``accounts``: extra accounts as email or "email=Full Name"."""
    import uvicorn

    from outbound.simulators.oauth.app import DEFAULT_ACCOUNTS

    extra = [(a.partition("=")[0], a.partition("=")[2]) for a in accounts]
    seeded = list(DEFAULT_ACCOUNTS) + [
        (email, name or email.split("@")[0].replace(".", " ").title()) for email, name in extra
    ]
    app = create_oauth_app(
        profile, redirect_uris=list(redirect_uris) or DEFAULT_REDIRECT_URIS, accounts=seeded
    )
    base = f"http://{host}:{port}"
    discovery = "/.well-known/openid-configuration"
    print(f"{PROFILES[profile].title} OAuth simulator at {base} (discovery: {base}{discovery})")
    print(f"client_id={DEFAULT_CLIENT_ID} client_secret={DEFAULT_CLIENT_SECRET}")
    print(f"redirect URIs: {', '.join(list(redirect_uris) or DEFAULT_REDIRECT_URIS)}")
    print(f"accounts: {', '.join(email for email, _ in seeded)}; admin: {base}/_admin/docs")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m outbound.simulators.oauth",
        description="A local Google or Microsoft OAuth 2.0 / OpenID Connect provider.",
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="google")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="A redirect URI to register for the client (repeatable)",
    )
    parser.add_argument(
        "--account", action="append", default=[], help="email or email=Full Name (repeatable)"
    )
    args = parser.parse_args(argv)
    serve(args.profile, args.host, args.port, args.redirect_uri, args.account)
