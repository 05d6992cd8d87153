"""No call to a partner starts inside a database transaction (roaming.client): the partner may call us back while it
answers, and would wait for what the transaction holds."""

import pytest
from django.db import transaction

from roaming.client import OcpiClientError, PartnerCallInTransaction, ocpi_request

pytestmark = pytest.mark.django_db
NOBODY = "http://127.0.0.1:9/ocpi/versions"  # the discard port: nothing answers


def test_a_call_inside_a_transaction_is_refused_before_anything_is_sent():
    with transaction.atomic(), pytest.raises(PartnerCallInTransaction, match="inside a database transaction"):
        ocpi_request("GET", NOBODY, token="token")


def test_a_call_outside_one_goes_out():
    # The test's own wrapping transaction is not ours: the call is made (and fails, nobody answering).
    with pytest.raises(OcpiClientError, match="ConnectError"):
        ocpi_request("GET", NOBODY, token="token")
