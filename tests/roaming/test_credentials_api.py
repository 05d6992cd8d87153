"""The OCPI versions, version details and credentials endpoints as a partner calls them (no partner platform behind:
the handshake over real HTTP between two servers is tests/e2e/test_ocpi_registration.py)."""

import base64

import pytest
from rest_framework.test import APIClient

from roaming.choices import RegistrationState
from roaming.models import OcpiIdentity, Party
from roaming.services.credentials import party_invite

pytestmark = pytest.mark.django_db
CREDENTIALS = "/ocpi/2.2.1/credentials"


def header(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
def invited(account):
    OcpiIdentity.objects.create(account=account, country_code="DE", party_id="ACM", name="Acme Charging")
    return party_invite(account=account, name="Partner")


def test_versions_and_details_open_with_token_a_and_list_credentials(invited):
    client = APIClient()
    versions = client.get("/ocpi/versions", **header(invited.incoming_token))
    assert versions.status_code == 200
    body = versions.json()
    assert body["status_code"] == 1000 and body["timestamp"].endswith("Z")
    assert body["data"] == [
        {"version": "2.2.1", "url": "http://testserver/ocpi/2.2.1/details"},
        {"version": "2.1.1", "url": "http://testserver/ocpi/2.1.1/details"},
    ]
    details = client.get("/ocpi/2.2.1/details", **header(invited.incoming_token)).json()["data"]
    assert details["version"] == "2.2.1"
    assert {(e["identifier"], e["role"]) for e in details["endpoints"]} == {
        ("credentials", "SENDER"),
        ("credentials", "RECEIVER"),
        ("locations", "SENDER"),
        ("locations", "RECEIVER"),
        ("tokens", "SENDER"),
        ("tokens", "RECEIVER"),
        *((module, role) for module in ("sessions", "cdrs", "tariffs", "commands") for role in ("SENDER", "RECEIVER")),
        ("hubclientinfo", "RECEIVER"),
        ("chargingprofiles", "RECEIVER"),
        ("chargingprofiles", "SENDER"),
    }


def test_a_plain_token_is_accepted_too(invited):
    response = APIClient().get("/ocpi/versions", HTTP_AUTHORIZATION=f"Token {invited.incoming_token}")
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", [None, "Token bm8tc3VjaC10b2tlbg==", "Bearer x", "Token "])
def test_no_or_an_unknown_token_is_a_401_in_the_envelope(invited, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = APIClient().get("/ocpi/versions", **extra)
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000
    assert response["WWW-Authenticate"] == "Token"


def test_get_credentials_gives_ours_with_the_partners_token(invited):
    data = APIClient().get("/ocpi/2.2.1/credentials", **header(invited.incoming_token)).json()["data"]
    assert data["token"] == invited.incoming_token
    assert data["url"] == "http://testserver/ocpi/versions"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in data["roles"]] == [
        ("CPO", "DE", "ACM"),
        ("EMSP", "DE", "ACM"),
    ]
    assert data["roles"][0]["business_details"] == {"name": "Acme Charging"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "https://partner.example/ocpi/versions", "roles": []}, "token"),
        ({"token": "x" * 65, "url": "https://partner.example/ocpi/versions", "roles": []}, "token"),
        ({"token": "abc", "url": "not a url", "roles": []}, "url"),
        ({"token": "abc", "url": "https://partner.example/ocpi/versions", "roles": []}, "roles"),
        (
            {
                "token": "abc",
                "url": "https://partner.example/ocpi/versions",
                "roles": [{"role": "CPO", "party_id": "PAR", "country_code": "NL", "business_details": {}}],
            },
            "roles[0].business_details.name",
        ),
        (
            {
                "token": "abc",
                "url": "https://partner.example/ocpi/versions",
                "roles": [{"role": "KING", "party_id": "PAR", "country_code": "NL", "business_details": {"name": "P"}}],
            },
            "roles[0].role",
        ),
    ],
)
def test_invalid_credentials_are_a_2001_naming_the_field_and_change_nothing(invited, body, field):
    response = APIClient().post("/ocpi/2.2.1/credentials", body, format="json", **header(invited.incoming_token))
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert f"Invalid credentials: {field}:" in response.json()["status_message"]
    invited.refresh_from_db()
    assert invited.state == RegistrationState.INVITED and invited.outgoing_token == ""


def test_invalid_json_is_a_400(invited):
    response = APIClient().generic(
        "POST", CREDENTIALS, "{not json", content_type="application/json", **header(invited.incoming_token)
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 2000


def test_a_partner_whose_versions_cannot_be_read_is_a_3001(invited):
    body = {
        "token": "partner-token-b",
        "url": "http://127.0.0.1:9/ocpi/versions",  # the discard port: nothing answers
        "roles": [{"role": "EMSP", "party_id": "PAR", "country_code": "NL", "business_details": {"name": "P"}}],
    }
    response = APIClient().post("/ocpi/2.2.1/credentials", body, format="json", **header(invited.incoming_token))
    assert response.status_code == 400
    assert response.json()["status_code"] == 3001
    assert Party.objects.get(pk=invited.pk).state == RegistrationState.INVITED


@pytest.mark.parametrize("method", ["put", "delete"])
def test_update_or_unregister_before_registering_is_a_405(invited, method):
    response = getattr(APIClient(), method)(CREDENTIALS, {}, format="json", **header(invited.incoming_token))
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000


def test_answers_echo_the_request_and_correlation_ids_and_turn_the_routing_headers_round(invited):
    headers = {
        **header(invited.incoming_token),
        "HTTP_X_REQUEST_ID": "req-1",
        "HTTP_X_CORRELATION_ID": "corr-1",
        "HTTP_OCPI_FROM_COUNTRY_CODE": "NL",
        "HTTP_OCPI_FROM_PARTY_ID": "EXA",
        "HTTP_OCPI_TO_COUNTRY_CODE": "DE",
        "HTTP_OCPI_TO_PARTY_ID": "ACM",
    }
    response = APIClient().get("/ocpi/versions", **headers)
    assert (response["X-Request-ID"], response["X-Correlation-ID"]) == ("req-1", "corr-1")
    assert (response["OCPI-from-country-code"], response["OCPI-from-party-id"]) == ("DE", "ACM")
    assert (response["OCPI-to-country-code"], response["OCPI-to-party-id"]) == ("NL", "EXA")
    refused = APIClient().get("/ocpi/versions", HTTP_AUTHORIZATION="Token bm9wZQ==")
    assert refused.status_code == 401 and refused["X-Request-ID"] == refused["X-Correlation-ID"]
