"""The HTTP transport's bearer token: one shared secret, checked by the SDK's own bearer middleware
(`mcp.server.auth`), so a request without it is answered 401 before any tool runs."""

from __future__ import annotations

import hmac
import secrets

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings


def new_token() -> str:
    return secrets.token_urlsafe(24)


class StaticToken:
    """A TokenVerifier that accepts exactly one token (compared in constant time)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token.encode()):
            return AccessToken(token=token, client_id="uiagent-mcp-client", scopes=[])
        return None


def auth_settings(url: str) -> AuthSettings:
    """This server is its own resource and names itself as the issuer: there is no OAuth flow, the
    token is given on the command line (or generated and shown at start)."""
    return AuthSettings(issuer_url=url, resource_server_url=url,  # type: ignore[arg-type]  # pydantic parses str
                        validate_token_resource=False)  # StaticToken is the whole check: one token, this server
