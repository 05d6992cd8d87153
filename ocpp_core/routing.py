"""WebSocket routes. The OCPP consumers join here (issue: OCPP 1.6J central system)."""

websocket_urlpatterns: list = []
