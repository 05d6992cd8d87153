import asyncio
import http.client
import os
from urllib.parse import urlsplit

import pytest
import websockets
from websockets.asyncio.client import connect


def http_request(base_url: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One plain HTTP request, redirects not followed. Returns (status, headers, body)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class connect_without_redirects(connect):
    """Report a redirect instead of following it, so a test sees the 301 itself."""

    def process_redirect(self, exc):
        return exc


def websocket_handshake(url: str, *, headers: dict | None = None, subprotocols=("ocpp1.6",)):
    """Try a WebSocket handshake; return ("open", None) or (HTTP status, response headers) of the refusal."""

    async def attempt():
        try:
            async with connect_without_redirects(
                url, subprotocols=list(subprotocols), additional_headers=headers or {}, open_timeout=10
            ):
                return "open", None
        except websockets.InvalidStatus as refusal:
            return refusal.response.status_code, refusal.response.headers

    return asyncio.run(attempt())


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs a shared Redis (REDIS_URL); runs in the PostgreSQL/Redis pass of .ci/run")
    return url
