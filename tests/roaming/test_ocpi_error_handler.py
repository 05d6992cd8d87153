"""Django's own request errors under /ocpi/ are answered in the OCPI envelope by our exception handler, and still
reach the loggers Django's handler would have sent them to: a SuspiciousOperation (a malformed or hostile request)
is a 400 logged to django.security.<its class>, a Django PermissionDenied is a 403 (not a logged 500)."""

import base64
import logging

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import include, path

from roaming.api.views import OcpiView
from roaming.choices import OcpiRole
from roaming.models import OcpiIdentity
from roaming.services.credentials import party_invite
from tests.factories import PartyFactory, PartyRoleFactory

pytestmark = pytest.mark.django_db


class RaisingView(OcpiView):
    """An OCPI endpoint as any other (our authentication, parser, renderer and exception handler) that meets one of
    Django's own exceptions, as code deeper down (a library, a Django helper) may raise it."""

    raised: Exception = RuntimeError("set by as_view")

    def get(self, request):
        raise self.raised


urlpatterns = [
    path("ocpi/test/forbidden", RaisingView.as_view(raised=PermissionDenied("Not for you."))),
    path("ocpi/test/suspicious", RaisingView.as_view(raised=SuspiciousOperation("A forged header."))),
    path("", include("powerfill.urls")),
]


@pytest.fixture
def headers(account):
    OcpiIdentity.objects.create(account=account, country_code="DE", party_id="ACM", name="Acme Charging")
    token = party_invite(account=account, name="Partner").incoming_token
    return {"HTTP_AUTHORIZATION": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.mark.urls(__name__)
def test_a_django_permission_denied_is_a_403_in_the_envelope(headers, caplog):
    with caplog.at_level(logging.WARNING):
        response = Client().get("/ocpi/test/forbidden", **headers)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["status_code"] == 2000
    assert response.json()["status_message"] == "Forbidden."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no 500 with a traceback


@pytest.mark.urls(__name__)
def test_a_suspicious_operation_is_a_400_logged_to_djangos_security_logger(headers, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().get("/ocpi/test/suspicious", **headers)
    assert response.status_code == 400
    assert response.json()["status_code"] == 2000
    logged = [r for r in caplog.records if r.name == "django.security.SuspiciousOperation"]
    assert len(logged) == 1 and logged[0].getMessage() == "A forged header."
    assert logged[0].status_code == 400


def test_too_many_query_fields_is_a_400_logged_to_djangos_security_logger(account, caplog, settings):
    # Django's own TooManyFieldsSent, raised when a real OCPI endpoint (a paged list) reads its query string.
    OcpiIdentity.objects.create(account=account, country_code="DE", party_id="ACM", name="Acme Charging")
    emsp = PartyFactory(account=account, role=None)
    PartyRoleFactory(partner=emsp, role=OcpiRole.EMSP)
    token = base64.b64encode(emsp.incoming_token.encode()).decode()
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    query = "&".join(f"f{n}=1" for n in range(10))
    with caplog.at_level(logging.INFO):
        response = Client().get(f"/ocpi/cpo/2.2.1/locations?{query}", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400
    assert response.json()["status_message"] == "Bad request."
    logged = [r for r in caplog.records if r.name == "django.security.TooManyFieldsSent"]
    assert len(logged) == 1


def test_a_body_over_the_size_limit_is_a_413_logged_to_djangos_security_logger(headers, caplog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"token": "' + "x" * 2000 + '"}'
    with caplog.at_level(logging.INFO):
        response = Client().post("/ocpi/2.2.1/credentials", body, content_type="application/json", **headers)
    assert response.status_code == 413
    assert response.json()["status_message"] == "The request body is too large."
    assert len([r for r in caplog.records if r.name == "django.security.RequestDataTooBig"]) == 1
