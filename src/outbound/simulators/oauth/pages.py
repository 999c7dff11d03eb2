"""The two HTML pages a person sees: the consent page and the error page (never a redirect)."""

from __future__ import annotations

from html import escape

from outbound.simulators.oauth.store import Account

STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f1f3f4;margin:0}"
    "main{max-width:28rem;margin:3rem auto;background:#fff;border-radius:.5rem;padding:2rem;"
    "box-shadow:0 1px 3px #0003}h1{font-size:1.4rem}ul{padding-left:1.2rem}"
    ".account{display:block;margin:.4rem 0}.actions{display:flex;gap:1rem;margin-top:1.5rem}"
    "button{font-size:1rem;padding:.5rem 1.2rem;border-radius:.3rem;border:1px solid #888}"
    "button[value=allow]{background:#1a73e8;color:#fff;border-color:#1a73e8}"
    ".sim{color:#777;font-size:.8rem;margin-top:2rem}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<style>{STYLE}</style></head><body><main>{body}"
        "<p class=sim>Outbound's local OAuth simulator: no real account is involved.</p>"
        "</main></body></html>"
    )


def consent_page(
    provider_title: str,
    client_name: str,
    action: str,
    request_id: str,
    accounts: list[Account],
    chosen: Account | None,
    scopes: list[str],
) -> str:
    if chosen is not None:
        who = (
            f"<p>Signed in as <strong id=account-email>{escape(chosen.email)}</strong></p>"
            f"<input type=hidden name=account value='{escape(chosen.email, quote=True)}'>"
        )
    elif accounts:
        who = "<p>Choose an account</p>" + "".join(
            f"<label class=account><input type=radio name=account required "
            f"value='{escape(a.email, quote=True)}'{' checked' if i == 0 else ''}> "
            f"{escape(a.name)} &lt;{escape(a.email)}&gt;</label>"
            for i, a in enumerate(accounts)
        )
    else:
        who = "<p>No account to sign in with: add one with POST /_admin/accounts.</p>"
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes)
    allow = "<button type=submit name=action value=allow>Allow</button>" if accounts else ""
    return _page(
        f"Sign in - {provider_title}",
        f"<h1>{escape(client_name)} wants to access your {escape(provider_title)} Account</h1>"
        f"<form method=post action='{escape(action, quote=True)}'>"
        f"<input type=hidden name=request_id value='{escape(request_id, quote=True)}'>"
        f"{who}<p>This will allow {escape(client_name)} to:</p><ul>{items}</ul>"
        f"<div class=actions><button type=submit name=action value=cancel formnovalidate>"
        f"Cancel</button>{allow}</div></form>",
    )


def error_page(provider_title: str, status: int, error: str, description: str) -> str:
    return _page(
        f"Error - {provider_title}",
        f"<h1>Access blocked: this request is invalid</h1>"
        f"<p id=error><strong>Error {status}: {escape(error)}</strong></p>"
        f"<p id=error-description>{escape(description)}</p>",
    )
