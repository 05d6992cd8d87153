"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels consumers; both behind the TLS redirect."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powerfill.settings.local")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ocpp_core.routing import websocket_urlpatterns  # noqa: E402
from powerfill.tls import WebSocketTlsRedirectMiddleware  # noqa: E402

# A server holding thousands of chargers keeps millions of long-lived objects; CPython's default collector walks
# them all every few hundred thousand allocations, stalling every socket for up to a second (OCPP answer p99 of
# 588 ms with 5,000 chargers in tests/benchmarks/bench_ocpp.py, 57 ms with this). Objects of the loaded application
# are frozen out of collection, and collections run less often.
gc.freeze()
gc.set_threshold(100_000, 50, 100)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketTlsRedirectMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
