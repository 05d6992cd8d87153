"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels consumers; both behind the TLS redirect."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "powerfill.settings.local")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ocpp_core.routing import websocket_urlpatterns  # noqa: E402
from powerfill.tls import WebSocketTlsRedirectMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketTlsRedirectMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
