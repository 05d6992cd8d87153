"""Under production settings plain http:// answers 301 to https:// and ws:// answers 301 to wss://."""

import os
import re
import secrets
import subprocess
import sys

import pytest

from ocpp_core.models import UnknownChargeBox

from ..live import PROJECT_DIR, asgi_server, database_url_for_children
from .conftest import http_request, websocket_handshake

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def production_env() -> dict:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Production requires Redis; a redirect never reaches it, so the embedded-defaults run needs none up.
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
    }


@pytest.fixture(scope="module")
def uvicorn_production(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        asgi_server(server="uvicorn", settings="powerfill.settings.production", env=production_env()) as url,
    ):
        yield url


def test_plain_http_is_redirected_to_https(uvicorn_production):
    port = uvicorn_production.rsplit(":", 1)[1]
    status, headers, _ = http_request(uvicorn_production, "GET", "/api/v1/sites?x=1")
    assert status == 301
    assert headers["location"] == f"https://127.0.0.1:{port}/api/v1/sites?x=1"


def test_https_from_the_terminator_is_served_with_hsts(uvicorn_production):
    status, headers, _ = http_request(uvicorn_production, "GET", "/api/v1/sites", {"X-Forwarded-Proto": "https"})
    assert status == 401  # reached the API
    assert headers["strict-transport-security"].startswith("max-age=31536000")


def test_a_ws_handshake_is_redirected_to_wss(uvicorn_production):
    ws_url = uvicorn_production.replace("http://", "ws://") + "/ocpp/CB-1?x=1"
    status, headers = websocket_handshake(ws_url)
    assert status == 301
    assert headers["Location"] == ws_url.replace("ws://", "wss://")
    assert not UnknownChargeBox.objects.exists()  # redirected before the OCPP endpoint saw it


def test_a_wss_handshake_from_the_terminator_is_not_redirected(uvicorn_production):
    ws_url = uvicorn_production.replace("http://", "ws://") + "/ocpp/CB-1"
    status, _ = websocket_handshake(ws_url, headers={"X-Forwarded-Proto": "https"})
    # The handshake reached the OCPP endpoint, which refuses a charger it does not know (and lists it for adoption).
    assert status == 404
    assert UnknownChargeBox.objects.filter(charge_box_id="CB-1").exists()


def test_daphne_can_only_refuse_a_plain_ws_handshake(django_db_setup, django_db_blocker):
    """Daphne lacks the WebSocket denial-response extension: the refusal reaches the charger as 403 (documented)."""
    with (
        django_db_blocker.unblock(),
        asgi_server(server="daphne", settings="powerfill.settings.production", env=production_env()) as url,
    ):
        status, _ = websocket_handshake(url.replace("http://", "ws://") + "/ocpp/CB-1")
        assert status == 403
        assert http_request(url, "GET", "/admin/")[0] == 301


def test_check_deploy_is_clean_under_production_settings(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        database_url = database_url_for_children()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--database", "default"],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            **production_env(),
            "DJANGO_SETTINGS_MODULE": "powerfill.settings.production",
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The only warning allowed is the one about the test's own database, where it is SQLite (the default pass).
    expected = {"powerfill.W002"} if database_url.startswith("sqlite") else set()
    assert set(re.findall(r"\((\w+\.\w+)\)", result.stdout + result.stderr)) == expected, result.stdout + result.stderr
