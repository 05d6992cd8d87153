"""WebSocket routes: chargers dial /ocpp/{chargeBoxId}."""

from django.urls import re_path

from .consumers import OcppConsumer

websocket_urlpatterns = [
    re_path(r"^ocpp/(?P<charge_box_id>[^/]+)/?$", OcppConsumer.as_asgi()),
]
