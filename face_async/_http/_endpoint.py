"""An endpoint and its credential: base URL, prebuilt headers, proxy, gate, redaction."""

from __future__ import annotations

import base64
import functools
import hashlib
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

import aiohttp
from yarl import URL

from ._gate import Gate

__all__ = [
    "BINARY",
    "JSON",
    "KEY_HEADER",
    "Endpoint",
    "TokenProvider",
    "credential_fingerprint",
    "user_agent",
]

TokenProvider = Callable[[], Awaitable[str]]
KEY_HEADER = "Ocp-Apim-Subscription-Key"
JSON = "application/json"
BINARY = "application/octet-stream"
_MASK = "***"


@functools.lru_cache(maxsize=1)
def user_agent() -> str:
    """``face-async/<version> aiohttp/<version>``; read late so the package can import us."""
    version = getattr(sys.modules.get("face_async"), "__version__", "0")
    return f"face-async/{version} aiohttp/{aiohttp.__version__}"


def credential_fingerprint(key: str | None, token_provider: TokenProvider | None) -> str:
    """A stable, non-secret identifier of a credential (keys are hashed, never stored here)."""
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"token:{id(token_provider):x}"


class Endpoint:
    """One endpoint (base URL) with one credential: prebuilt headers, proxy and rate gate.

    Built by the client; ``repr`` shows the URL and the kind of credential, never the secret.
    """

    __slots__ = (
        "_secrets",
        "base_url",
        "credential_id",
        "gate",
        "headers",
        "host",
        "proxy",
        "proxy_headers",
        "token_provider",
    )

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None = None,
        token_provider: TokenProvider | None = None,
        proxy: str | None = None,
        gate: Gate | None = None,
    ) -> None:
        if (key is None) == (token_provider is None):
            raise TypeError("exactly one of key and token_provider is required")
        self.base_url = base_url.rstrip("/")
        self.host = URL(self.base_url).host or ""
        self.proxy: URL | None = None
        self.proxy_headers: Mapping[str, str] | None = None
        if proxy:
            proxy_url = URL(proxy)
            if proxy_url.user is not None:
                # aiohttp ignores credentials inside the proxy URL; send them as a header.
                pair = f"{proxy_url.user}:{proxy_url.password or ''}".encode()
                auth = "Basic " + base64.b64encode(pair).decode("ascii")
                self.proxy_headers = {"Proxy-Authorization": auth}
                proxy_url = proxy_url.with_user(None)
            self.proxy = proxy_url
        #: The async token callable, or None for a subscription key (read by the transport).
        self.token_provider = token_provider
        #: Secrets to blank in error texts: the key, and the latest tokens sent.
        self._secrets: list[str] = [key] if key else []
        self.credential_id = credential_fingerprint(key, token_provider)
        self.gate = gate if gate is not None else Gate()
        base: dict[str, str] = {"User-Agent": user_agent()}
        if key is not None:
            base[KEY_HEADER] = key
        #: Prebuilt headers per request content type (None: no body); read-only by convention.
        #: Plain slot attributes, not properties: the transport reads them on every call.
        self.headers: Mapping[str | None, Mapping[str, str]] = {
            None: base,
            JSON: {**base, "Content-Type": JSON},
            BINARY: {**base, "Content-Type": BINARY},
        }

    @property
    def auth(self) -> Literal["key", "token"]:
        """The kind of credential ("key" or "token")."""
        return "token" if self.token_provider is not None else "key"

    async def request_headers(self, content_type: str | None) -> Mapping[str, str]:
        """The headers for one request; with a token provider, fetches the current token."""
        headers = self.headers[content_type]
        if self.token_provider is None:
            return headers
        token = await self.token_provider()
        if token and token not in self._secrets:
            # Remember the few latest tokens so an error body that echoes one is redacted.
            self._secrets = [token, *self._secrets[:3]]
        return {**headers, "Authorization": f"Bearer {token}"}

    def redact(self, body: bytes) -> bytes:
        """``body`` with the key and recent tokens blanked (for error excerpts and messages)."""
        for secret in self._secrets:
            raw = secret.encode()
            if raw in body:
                body = body.replace(raw, _MASK.encode())
        return body

    def redact_text(self, text: str) -> str:
        """``text`` with the key and recent tokens blanked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text

    def __repr__(self) -> str:
        return f"Endpoint({self.base_url!r}, auth={self.auth!r})"
