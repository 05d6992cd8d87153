"""Operation parameters are checked before anything is sent: a bad one is a 400 and no task is recorded."""

import pytest

from ocpp_core.models import OperationTask

from ..factories import ChargeBoxFactory
from .crud import assert_api_error

# transaction=True: the operations view runs outside a request transaction (it waits for chargers), so an error
# response must not roll back the transaction a plain django_db test would wrap around it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("SendLocalList", {"updateType": "Full", "listVersion": 2**40}, "listVersion"),
        ("UnlockConnector", {"connectorId": 2**31}, "connectorId"),
        ("RemoteStopTransaction", {"transactionId": -(2**40)}, "transactionId"),
        ("ReserveNow", {"connectorId": 1, "expiry": "2030-01-01T00:00:00Z", "idTag": "X" * 21}, "idTag"),
    ],
)
def test_out_of_range_parameters_are_refused_before_sending(api, account, action, body, field):
    ChargeBoxFactory(account=account, charge_box_id="CB-1", is_connected=True)
    response = api.post(f"/api/v1/operations/{action}", {"chargeBoxIdList": ["CB-1"], **body}, format="json")
    assert_api_error(response, 400, field)
    assert not OperationTask.objects.exists()
