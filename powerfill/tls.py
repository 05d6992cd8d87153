"""Redirect plain ws:// handshakes to wss:// when TLS is required.

Django's SecurityMiddleware redirects plain HTTP (``SECURE_SSL_REDIRECT``), but Django's middleware never sees
WebSocket scopes, so this ASGI middleware applies the same settings to WebSocket handshakes: a charger that dials
ws:// gets ``301 Location: wss://...``. The answer needs the ASGI "websocket.http.response" extension (uvicorn has
it); servers without it (Daphne) can only refuse the handshake, which Daphne turns into 403.
"""

from django.conf import settings


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def websocket_is_secure(scope) -> bool:
    """True when the handshake arrived over TLS, directly or (per SECURE_PROXY_SSL_HEADER) via the terminator."""
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, secure_value = proxy_header
        header_name = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        forwarded = _header(scope, header_name)
        if forwarded is not None:
            return forwarded.split(",")[0].strip() == secure_value
    return False


def secure_websocket_url(scope) -> str:
    host = settings.SECURE_SSL_HOST or _header(scope, b"host") or "localhost"
    path = scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"wss://{host}{path}" + (f"?{query}" if query else "")


class WebSocketTlsRedirectMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or not settings.SECURE_SSL_REDIRECT or websocket_is_secure(scope):
            return await self.app(scope, receive, send)
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            location = secure_websocket_url(scope).encode("latin-1")
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 301,
                    "headers": [(b"location", location), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"TLS required: use " + location})
        else:
            await send({"type": "websocket.close", "code": 1008})
