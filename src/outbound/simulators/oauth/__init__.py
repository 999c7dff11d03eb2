"""A local OAuth 2.0 / OpenID Connect provider that plays Google or Microsoft (issue 18).

One simulator plays one provider, named by its profile (``google`` or ``microsoft``), at that
provider's own paths under the simulator's base URL, so a client configured from the discovery
document (``/.well-known/openid-configuration``) runs the same code against it as against the
real one. The test mail servers ask its introspection endpoint whether an XOAUTH2 token is live.

Why hand-written and not an OAuth server library (Authlib's server side, oauthlib): the point of
the simulator is the providers' quirks (Google's ``access_type=offline`` and one refresh token per
consent, Microsoft's tenant paths, rotated refresh tokens, no revocation endpoint, their error
bodies) and test knobs (token lifetimes shortened on issued tokens, grants revoked as a Workspace
admin would). A library would own the protocol state we need to bend; the protocol itself
(code flow with PKCE, two grants, RFC 7009 revocation, RFC 7662 introspection) is small.
"""

from outbound.simulators.oauth.app import create_oauth_app
from outbound.simulators.oauth.profiles import PROFILES
from outbound.simulators.oauth.store import Account, Client

__all__ = ["PROFILES", "Account", "Client", "create_oauth_app"]
