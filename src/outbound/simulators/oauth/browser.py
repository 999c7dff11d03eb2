"""What a person does on the consent page, done over HTTP: for tests that drive the connect flow
without a browser (the Chromium test clicks the real buttons)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


class ConsentError(Exception):
    """The authorization endpoint showed an error page (or no consent form)."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(f"no consent form (HTTP {status})")
        self.status = status
        self.page = page


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.accounts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio" and a.get("name") == "account":
            self.accounts.append(a.get("value", ""))


def consent(
    client: httpx.Client, authorize_url: str, *, account: str | None = None, allow: bool = True
) -> str:
    """Open the authorization URL, pick ``account`` (or the one shown), press Allow or Cancel;
    the answer's Location (the client's redirect URI with a code or an error)."""
    page = client.get(authorize_url)
    form = _Form()
    form.feed(page.text)
    if page.status_code != 200 or form.action is None:
        raise ConsentError(page.status_code, page.text)
    data = dict(form.fields)
    if account is not None:
        data["account"] = account
    elif "account" not in data and form.accounts:
        data["account"] = form.accounts[0]
    data["action"] = "allow" if allow else "cancel"
    answer = client.post(urljoin(str(page.url), form.action), data=data)
    if answer.status_code not in (302, 303):
        raise ConsentError(answer.status_code, answer.text)
    return answer.headers["location"]
