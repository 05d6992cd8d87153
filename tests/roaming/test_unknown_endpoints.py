"""Every answer under /ocpi/ is an OCPI envelope in JSON, for paths that are none of our endpoints too (a partner's
client parses the envelope; an HTML page is a parse error on its side)."""

import base64

import pytest
from django.test import Client

from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite

pytestmark = pytest.mark.django_db

UNKNOWN_PATHS = [
    "/ocpi/",
    "/ocpi/nothing",
    "/ocpi/versions/",
    "/ocpi/2.2.1/details/",
    "/ocpi/2.2.1/credentials/",
    "/ocpi/cpo/2.2.1/locations/",
    "/ocpi/cpo/2.2.1/tokens/NL/EX1/abc/",
    "/ocpi/emsp/2.2.1/cdrs/not-a-number",
    "/ocpi/2.0/details",
    "/ocpi/2.1.1/details/",
    "/ocpi/cpo/2.2.1/nomodule",
]


@pytest.fixture
def token_a(account):
    OcpiIdentity.objects.create(account=account, country_code="DE", party_id="ACM", name="Acme Charging")
    return party_invite(account=account, name="Partner").incoming_token


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("authenticated", [True, False])
def test_it_answers_an_unknown_path_with_a_404_in_the_envelope(token_a, path, method, authenticated):
    headers = {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token_a.encode()).decode()} if authenticated else {}
    response = getattr(Client(), method)(path, **headers, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status_code"] == 2000
    assert body["timestamp"].endswith("Z")
    assert path in body["status_message"]


def test_it_names_the_endpoint_a_trailing_slash_variant_stands_for(token_a):
    body = Client().get("/ocpi/versions/").json()
    assert "Did you mean /ocpi/versions " in body["status_message"]
    assert "Did you mean" not in Client().get("/ocpi/nothing/").json()["status_message"]


def test_our_endpoints_still_answer(token_a):
    headers = {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token_a.encode()).decode()}
    response = Client().get("/ocpi/versions", **headers)
    assert response.status_code == 200 and response.json()["status_code"] == 1000


def test_a_body_over_the_size_limit_is_a_413_in_the_envelope(token_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token_a.encode()).decode()}
    body = '{"token": "' + "x" * 2000 + '"}'
    response = Client().post("/ocpi/2.2.1/credentials", body, content_type="application/json", **headers)
    assert response.status_code == 413
    assert response.json()["status_code"] == 2000
    assert response.json()["status_message"] == "The request body is too large."
