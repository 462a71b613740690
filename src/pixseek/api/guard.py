"""The door every request passes: a local Host name when the server listens on loopback only
(a web page elsewhere cannot reach it through DNS rebinding), the token when one is set, and
a bounded body.

The token travels as `Authorization: Bearer T`, or as `?token=T` for what cannot set headers
(a browser opening /docs, EventSource); a request that brought it in the query gets it back as
a cookie, so the page it opened can make its own requests.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from urllib.parse import parse_qs

from starlette.datastructures import Headers

from pixseek.api.settings import is_loopback
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "pixseek_token"


def _host_name(host_header: str) -> str:
    """The name in a Host header, without its port ('[::1]:8600' -> '::1')."""
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _cookie(headers: Headers) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


async def _refuse(send: Send, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: ASGIApp, token: str | None, local_only: bool, max_body: int):
        self.app = app
        self.token = token
        self.local_only = local_only
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.local_only and not is_loopback(_host_name(headers.get("host", "")).lower()):
            await _refuse(send, 403, "this server answers only to localhost addresses")
            return
        from_query = None
        if self.token is not None:
            from_query = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [None])[-1]
            supplied = self._bearer(headers) or from_query or _cookie(headers)
            if supplied is None or not hmac.compare_digest(supplied.encode(), self.token.encode()):
                await _refuse(send, 401, "a valid token is required: send it as `Authorization: Bearer TOKEN`",
                              [(b"www-authenticate", b"Bearer")])
                return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send, 413, f"the request is too large (at most {self.max_body // 2**20} MB)")
            return
        await self.app(scope, self._bounded(receive), self._with_cookie(send) if from_query else send)

    @staticmethod
    def _bearer(headers: Headers) -> str | None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _bounded(self, receive: Receive) -> Receive:
        """A body sent without a length stops being read past the limit (the request then ends)."""
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    return {"type": "http.disconnect"}
            return message
        return bounded

    def _with_cookie(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)
        return sending
