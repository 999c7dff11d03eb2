"""Issue 18: the local OAuth provider simulator, as Google and as Microsoft, driven over HTTP the
way Outbound's connect flow and a browser will drive it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from outbound.simulators.oauth import create_oauth_app
from outbound.simulators.oauth.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from outbound.simulators.oauth.browser import ConsentError, consent
from outbound.simulators.oauth.serve import main as serve_main
from outbound.simulators.server import ServerThread

REDIRECT = "http://outbound.test/mailbox/oauth/callback"
EMAIL = "olivia.owner@acme-staffing.test"
MAIL_SCOPES = {
    "google": "openid email profile https://mail.google.com/",
    "microsoft": "openid email profile offline_access https://outlook.office.com/SMTP.Send "
    "https://outlook.office.com/IMAP.AccessAsUser.All",
}
EXTRA = {"google": {"access_type": "offline"}, "microsoft": {}}  # what gets a refresh token


def challenge_of(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass
class Sim:
    profile: str
    url: str
    http: httpx.Client

    @property
    def discovery(self) -> dict[str, Any]:
        return dict(self.http.get(self.url + "/.well-known/openid-configuration").json())

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, f"{self.url}/_admin{path}", **kw)
        assert r.status_code < 300, r.text
        return r.json()

    def authorize_url(self, verifier: str, **params: Any) -> str:
        query = {
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": MAIL_SCOPES[self.profile],
            "state": "state-" + secrets.token_hex(4),
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
            **EXTRA[self.profile],
            **params,
        }
        query = {k: v for k, v in query.items() if v is not None}
        return self.discovery["authorization_endpoint"] + "?" + urlencode(query)

    def code(self, verifier: str, **params: Any) -> str:
        location = consent(self.http, self.authorize_url(verifier, **params))
        return parse_qs(urlsplit(location).query)["code"][0]

    def token(self, form: dict[str, str], basic: bool = True) -> httpx.Response:
        endpoint = self.discovery["token_endpoint"]
        if basic:  # client_secret_basic
            return self.http.post(
                endpoint, data=form, auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
            )
        secret = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
        return self.http.post(endpoint, data={**form, **secret})  # client_secret_post

    def exchange(self, code: str, verifier: str, basic: bool = True) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        return self.token(form, basic)

    def tokens(self, **params: Any) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        r = self.exchange(self.code(verifier, **params), verifier)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def introspect(self, token: str, **extra: str) -> dict[str, Any]:
        r = self.http.post(
            self.url + "/introspect",
            data={"token": token, **extra},
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def userinfo(self, access_token: str) -> httpx.Response:
        return self.http.get(
            self.discovery["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
        )


@pytest.fixture(scope="module", params=["google", "microsoft"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    thread = ServerThread(create_oauth_app(request.param, redirect_uris=[REDIRECT])).start()
    yield request.param, thread.url
    thread.stop()


@pytest.fixture
def sim(server: tuple[str, str]) -> Iterator[Sim]:
    profile, url = server
    with httpx.Client(timeout=10) as http:
        s = Sim(profile, url, http)
        s.admin("POST", "/reset")
        yield s


GOOGLE_ONLY = pytest.mark.parametrize("server", ["google"], indirect=True)
MICROSOFT_ONLY = pytest.mark.parametrize("server", ["microsoft"], indirect=True)


# -- discovery ------------------------------------------------------------------------------


def test_discovery_names_the_providers_real_paths(sim: Sim) -> None:
    doc = sim.discovery
    paths = {k: urlsplit(v).path for k, v in doc.items() if str(v).startswith("http")}
    if sim.profile == "google":
        assert paths["authorization_endpoint"] == "/o/oauth2/v2/auth"
        assert paths["token_endpoint"] == "/token"
        assert paths["userinfo_endpoint"] == "/v1/userinfo"
        assert paths["revocation_endpoint"] == "/revoke"
        assert doc["issuer"] == sim.url
    else:
        tenant = sim.admin("GET", "/state")["tenant_id"]
        assert paths["authorization_endpoint"] == f"/{tenant}/oauth2/v2.0/authorize"
        assert paths["token_endpoint"] == f"/{tenant}/oauth2/v2.0/token"
        assert paths["userinfo_endpoint"] == "/oidc/userinfo"
        assert "revocation_endpoint" not in doc  # Microsoft has none
        assert doc["issuer"] == f"{sim.url}/{tenant}/v2.0"
        common = sim.http.get(sim.url + "/common/v2.0/.well-known/openid-configuration").json()
        assert urlsplit(common["token_endpoint"]).path == "/common/oauth2/v2.0/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert paths["introspection_endpoint"] == "/introspect"


# -- the code flow --------------------------------------------------------------------------


def test_full_code_flow_with_a_client_library(sim: Sim) -> None:
    """Authlib builds the request (PKCE S256, state), the consent page is answered as a person
    would, Authlib swaps the code (client_secret_basic) and reads the user."""
    doc = sim.discovery
    client = OAuth2Client(
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        scope=MAIL_SCOPES[sim.profile],
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(
        doc["authorization_endpoint"], code_verifier=verifier, nonce="n-42", **EXTRA[sim.profile]
    )
    page = sim.http.get(url)
    assert page.status_code == 200 and EMAIL in page.text
    assert "Allow" in page.text and "Cancel" in page.text
    location = consent(sim.http, url)
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = client.fetch_token(
        doc["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    assert token["refresh_token"]
    client.token = token
    me = client.get(doc["userinfo_endpoint"]).json()
    assert me["email"] == EMAIL and me["name"] == "Olivia Owner" and me["sub"]
    if sim.profile == "google":
        assert me["email_verified"] is True
    else:
        assert "email_verified" not in me  # Microsoft's userinfo has no such claim
    keys = KeySet.import_key_set(sim.http.get(doc["jwks_uri"]).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert id_token["iss"] == doc["issuer"] and id_token["aud"] == DEFAULT_CLIENT_ID
    assert id_token["sub"] == me["sub"] and id_token["nonce"] == "n-42"
    assert id_token["email"] == EMAIL


def test_client_secret_post_works_too(sim: Sim) -> None:
    verifier = secrets.token_urlsafe(48)
    r = sim.exchange(sim.code(verifier), verifier, basic=False)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert sim.introspect(r.json()["access_token"])["email"] == EMAIL


def test_pkce_mismatch_is_refused(sim: Sim) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sim.code(verifier)
    r = sim.exchange(code, secrets.token_urlsafe(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    missing = sim.exchange(code, "")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},  # defaults to plain
        {"code_challenge": None, "code_challenge_method": None},  # no PKCE at all
    ],
)
def test_pkce_plain_or_none_is_refused_at_the_redirect(sim: Sim, params: dict[str, Any]) -> None:
    verifier = secrets.token_urlsafe(48)
    r = sim.http.get(sim.authorize_url(verifier, state="s-1", **params))
    assert r.status_code == 302
    answer = parse_qs(urlsplit(r.headers["location"]).query)
    assert answer["error"] == ["invalid_request"] and answer["state"] == ["s-1"]
    assert "code" not in answer


@pytest.mark.parametrize(
    "params,status,error",
    [
        ({"redirect_uri": "http://evil.test/callback"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": REDIRECT + "/"}, 400, "redirect_uri_mismatch"),  # exact match only
        ({"redirect_uri": None}, 400, "redirect_uri_mismatch"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
    ],
)
def test_an_untrusted_redirect_gets_an_error_page_never_a_redirect(
    sim: Sim, params: dict[str, Any], status: int, error: str
) -> None:
    r = sim.http.get(sim.authorize_url(secrets.token_urlsafe(48), **params))
    assert r.status_code == status and "location" not in r.headers
    assert error in r.text
    with pytest.raises(ConsentError):
        consent(sim.http, sim.authorize_url(secrets.token_urlsafe(48), **params))


def test_cancel_answers_access_denied_with_the_state(sim: Sim) -> None:
    url = sim.authorize_url(secrets.token_urlsafe(48), state="s-cancel")
    answer = parse_qs(urlsplit(consent(sim.http, url, allow=False)).query)
    assert answer["error"] == ["access_denied"] and answer["state"] == ["s-cancel"]
    assert "code" not in answer


def test_a_consent_page_answers_once(sim: Sim) -> None:
    page = sim.http.get(sim.authorize_url(secrets.token_urlsafe(48)))
    action = page.text.split("action='", 1)[1].split("'", 1)[0]
    request_id = page.text.split("name=request_id value='", 1)[1].split("'", 1)[0]
    form = {"request_id": request_id, "account": EMAIL, "action": "allow"}
    assert sim.http.post(sim.url + action, data=form).status_code == 302
    assert sim.http.post(sim.url + action, data=form).status_code == 400


def test_a_code_is_single_use_and_a_replay_revokes_its_tokens(sim: Sim) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sim.code(verifier)
    first = sim.exchange(code, verifier)
    assert first.status_code == 200
    again = sim.exchange(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert sim.introspect(first.json()["access_token"]) == {"active": False}


def test_a_code_is_short_lived(sim: Sim) -> None:
    sim.admin("PUT", "/token-lifetime", json={"code_seconds": 0})
    verifier = secrets.token_urlsafe(48)
    r = sim.exchange(sim.code(verifier), verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_the_code_is_bound_to_its_redirect_uri(sim: Sim) -> None:
    verifier = secrets.token_urlsafe(48)
    form = {
        "grant_type": "authorization_code",
        "code": sim.code(verifier),
        "redirect_uri": REDIRECT + "?other",
        "code_verifier": verifier,
    }
    r = sim.token(form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_client_authentication(sim: Sim) -> None:
    verifier = secrets.token_urlsafe(48)
    form = {
        "grant_type": "authorization_code",
        "code": sim.code(verifier),
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    endpoint = sim.discovery["token_endpoint"]
    wrong = sim.http.post(endpoint, data=form, auth=(DEFAULT_CLIENT_ID, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    both = sim.http.post(
        endpoint,
        data={**form, "client_secret": DEFAULT_CLIENT_SECRET},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    none = sim.http.post(endpoint, data=form)
    assert none.status_code == 401
    anonymous = sim.http.post(sim.url + "/introspect", data={"token": "x"})
    assert anonymous.status_code == 401


# -- expiry, refresh, revocation --------------------------------------------------------------


def test_a_shortened_expiry_makes_issued_tokens_inactive(sim: Sim) -> None:
    tokens = sim.tokens()
    live = sim.introspect(tokens["access_token"])
    assert live["active"] is True and live["email"] == EMAIL and live["exp"] > live["iat"]
    assert set(live["scope"].split()) == set(MAIL_SCOPES[sim.profile].split())
    changed = sim.admin("PUT", "/token-lifetime", json={"access_token_seconds": 0})
    assert changed["shortened"] >= 1
    assert sim.introspect(tokens["access_token"]) == {"active": False}
    assert sim.userinfo(tokens["access_token"]).status_code == 401
    sim.admin("PUT", "/token-lifetime", json={"access_token_seconds": 3599})
    refreshed = sim.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text  # expiry of access is not of the grant
    assert sim.introspect(refreshed.json()["access_token"])["active"] is True


def test_refresh_then_a_revoked_grant_gives_invalid_grant(sim: Sim) -> None:
    tokens = sim.tokens()
    r = sim.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert sim.userinfo(fresh["access_token"]).json()["email"] == EMAIL
    current_refresh = fresh.get("refresh_token", tokens["refresh_token"])
    assert sim.admin("POST", f"/accounts/{EMAIL}/revoke") == {"revoked_grants": 1}
    dead = sim.refresh(current_refresh)
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"
    assert sim.introspect(fresh["access_token"]) == {"active": False}
    assert sim.userinfo(fresh["access_token"]).status_code == 401
    if sim.profile == "microsoft":
        assert dead.json()["error_codes"] == [50173]
        assert dead.json()["error_description"].startswith("AADSTS50173")
    else:
        assert dead.json()["error_description"] == "Token has been expired or revoked."


def test_an_expired_refresh_token_gives_invalid_grant(sim: Sim) -> None:
    tokens = sim.tokens()
    sim.admin("PUT", "/token-lifetime", json={"refresh_token_seconds": 0})
    r = sim.refresh(tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_refresh_token_rotation_follows_the_profile_and_can_be_switched(sim: Sim) -> None:
    tokens = sim.tokens()
    first = sim.refresh(tokens["refresh_token"]).json()
    if sim.profile == "google":
        assert "refresh_token" not in first  # Google keeps the one refresh token
        assert sim.refresh(tokens["refresh_token"]).status_code == 200
        sim.admin("PUT", "/options", json={"rotate_refresh_tokens": True})
        first = sim.refresh(tokens["refresh_token"]).json()
    assert first["refresh_token"] != tokens["refresh_token"]
    old = sim.refresh(tokens["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert sim.refresh(first["refresh_token"]).status_code == 200


@GOOGLE_ONLY
def test_google_gives_a_refresh_token_for_offline_access_on_first_consent(sim: Sim) -> None:
    assert "refresh_token" not in sim.tokens(access_type=None)
    assert "refresh_token" in sim.tokens()  # first offline consent
    assert "refresh_token" not in sim.tokens()  # consent again: none
    assert "refresh_token" in sim.tokens(prompt="consent")
    sim.admin("POST", f"/accounts/{EMAIL}/revoke")
    assert "refresh_token" in sim.tokens()  # after revocation it is a first consent again


@MICROSOFT_ONLY
def test_microsoft_gives_a_refresh_token_for_offline_access_only(sim: Sim) -> None:
    assert "refresh_token" not in sim.tokens(scope="openid email profile")
    tokens = sim.tokens()
    assert tokens["refresh_token"] and tokens["ext_expires_in"] == tokens["expires_in"]


@GOOGLE_ONLY
def test_google_revocation_endpoint_revokes_the_whole_grant(sim: Sim) -> None:
    tokens = sim.tokens()
    revoke = sim.discovery["revocation_endpoint"]
    assert sim.http.post(revoke, data={"token": tokens["refresh_token"]}).status_code == 200
    assert sim.introspect(tokens["access_token"]) == {"active": False}
    assert sim.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    again = sim.http.post(revoke, data={"token": tokens["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


@MICROSOFT_ONLY
def test_microsoft_has_no_revocation_endpoint_and_checks_the_tenant(sim: Sim) -> None:
    assert sim.http.post(sim.url + "/revoke", data={"token": "x"}).status_code == 404
    bad = sim.http.get(
        sim.url + "/someone-else/oauth2/v2.0/authorize",
        params={"client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT},
    )
    assert bad.status_code == 400 and "location" not in bad.headers
    common = sim.authorize_url(secrets.token_urlsafe(48)).replace(
        sim.admin("GET", "/state")["tenant_id"], "common"
    )
    assert "code=" in consent(sim.http, common)


def test_a_refresh_token_is_not_a_bearer_token(sim: Sim) -> None:
    tokens = sim.tokens()
    assert sim.introspect(tokens["refresh_token"]) == {"active": False}
    as_refresh = sim.introspect(tokens["refresh_token"], token_type_hint="refresh_token")
    assert as_refresh["active"] is True and as_refresh["token_type"] == "refresh_token"
    assert sim.userinfo(tokens["refresh_token"]).status_code == 401


# -- admin ----------------------------------------------------------------------------------


def test_admin_accounts_tokens_and_reset(sim: Sim) -> None:
    rita = "rita.recruiter@acme-staffing.test"
    sim.admin("POST", "/accounts", json={"email": rita})
    chooser = sim.http.get(sim.authorize_url(secrets.token_urlsafe(48))).text
    assert rita in chooser and EMAIL in chooser  # two accounts: the person picks one
    verifier = secrets.token_urlsafe(48)
    hinted = sim.authorize_url(verifier, login_hint=rita)
    assert f"<strong id=account-email>{rita}</strong>" in sim.http.get(hinted).text
    access = sim.exchange(sim.code(verifier, login_hint=rita), verifier).json()["access_token"]
    assert sim.introspect(access)["email"] == rita
    listed = sim.admin("GET", "/tokens", params={"email": rita})
    assert {t["kind"] for t in listed} == {"access", "refresh"}
    assert all(t["active"] for t in listed) and access in {t["value"] for t in listed}
    minted = sim.admin("POST", "/grants", json={"email": EMAIL})  # no browser: worker tests
    assert sim.introspect(minted["access_token"])["email"] == EMAIL
    assert sim.admin("GET", "/stats")["token:authorization_code"] == 1
    sim.admin("POST", "/reset")
    assert sim.admin("GET", "/tokens") == []
    assert [a["email"] for a in sim.admin("GET", "/accounts")] == [EMAIL]
    assert sim.introspect(access) == {"active": False}


def test_the_module_entry_point_has_a_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        serve_main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--profile" in out and "microsoft" in out
