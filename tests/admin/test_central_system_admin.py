from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ocpp_core.models import ChargeBox, OcppMessage, UnknownChargeBox
from ocpp_core.services.message_log import message_log_prune
from ocpp_core.tasks import message_log_prune as prune_task

from ..factories import (
    AccountFactory,
    ChargeBoxFactory,
    ConnectorFactory,
    OcppMessageFactory,
    TransactionFactory,
    UnknownChargeBoxFactory,
)


@pytest.mark.django_db
class TestUnknownChargers:
    def test_an_operator_adopts_an_unknown_charger_into_their_account(self, operator_client, account):
        unknown = UnknownChargeBoxFactory(charge_box_id="NEW-ONE")
        response = operator_client.post(
            reverse("admin:ocpp_core_unknownchargebox_changelist"),
            {"action": "adopt", "_selected_action": [unknown.pk]},
        )
        assert response.status_code == 302
        assert ChargeBox.objects.get(charge_box_id="NEW-ONE").account == account
        assert not UnknownChargeBox.objects.exists()

    def test_a_superuser_picks_the_account(self, superuser_client):
        unknown = UnknownChargeBoxFactory(charge_box_id="NEW-TWO")
        target = AccountFactory(name="Adopter")
        superuser_client.post(
            reverse("admin:ocpp_core_unknownchargebox_changelist"),
            {"action": "adopt", "_selected_action": [unknown.pk], "account": target.pk},
        )
        assert ChargeBox.objects.get(charge_box_id="NEW-TWO").account == target

    def test_an_identity_that_is_no_valid_charge_box_id_is_not_adopted(self, operator_client):
        unknown = UnknownChargeBoxFactory(charge_box_id="has spaces & more")
        operator_client.post(
            reverse("admin:ocpp_core_unknownchargebox_changelist"),
            {"action": "adopt", "_selected_action": [unknown.pk]},
        )
        assert UnknownChargeBox.objects.filter(pk=unknown.pk).exists()
        assert not ChargeBox.objects.filter(charge_box_id="has spaces & more").exists()


@pytest.mark.django_db
class TestLiveStatusPages:
    def test_the_changelist_shows_connection_and_connector_status(self, operator_client, account):
        box = ChargeBoxFactory(
            account=account, charge_box_id="LIVE-1", is_connected=True, last_heartbeat_at=timezone.now()
        )
        ConnectorFactory(charge_box=box, connector_id=1, status="Charging")
        ConnectorFactory(charge_box=box, connector_id=2, status="Available")
        TransactionFactory(charge_box=box)
        page = operator_client.get(reverse("admin:ocpp_core_chargebox_changelist")).content.decode()
        assert "1: Charging, 2: Available" in page
        assert 'alt="True"' in page  # connected
        live = operator_client.get(reverse("admin:ocpp_core_chargebox_live")).content.decode()
        assert '<meta http-equiv="refresh" content="10">' in live and "1: Charging" in live

    def test_a_transaction_page_draws_its_meter_values(self, operator_client, account):
        from ocpp_core.models import MeterValue

        tx = TransactionFactory(charge_box=ChargeBoxFactory(account=account), meter_start=0)
        start = timezone.now() - timedelta(minutes=30)
        for minute in range(0, 31, 5):
            for measurand, value in (("Energy.Active.Import.Register", minute * 100), ("Power.Active.Import", 11000)):
                MeterValue.objects.create(
                    charge_box=tx.charge_box,
                    connector_id=1,
                    transaction=tx,
                    unit="W" if measurand.startswith("Power") else "Wh",
                    measurand=measurand,
                    timestamp=start + timedelta(minutes=minute),
                    value=str(value),
                    numeric_value=value,
                )
        page = operator_client.get(reverse("admin:ocpp_core_transaction_change", args=[tx.pk])).content.decode()
        assert "<svg" in page and "<polyline" in page and "energy register (kWh)" in page and "power (kW)" in page

    def test_the_operations_page_offers_the_operations_and_their_parameters(self, operator_client, account):
        box = ChargeBoxFactory(account=account, charge_box_id="OPS-1")
        url = reverse("admin:ocpp_core_chargebox_operations")
        page = operator_client.get(url, {"ids": box.pk, "operation": "ReserveNow"}).content.decode()
        assert "OPS-1" in page and 'name="connectorId"' in page and 'name="expiry"' in page
        posted = operator_client.post(f"{url}?ids={box.pk}&operation=Reset", {"resetType": "Soft"})
        assert "The charge box is not connected." in posted.content.decode()  # offline: nothing sent

    def test_the_operations_page_validates_with_the_api_rules(self, operator_client, account):
        box = ChargeBoxFactory(account=account, charge_box_id="OPS-2")
        url = reverse("admin:ocpp_core_chargebox_operations")
        page = operator_client.post(
            f"{url}?ids={box.pk}&operation=ChangeConfiguration",
            {"keyType": "PREDEFINED", "confKey": "AuthorizationKey", "value": "short"},
        ).content.decode()
        assert "16 to 40" in page


@pytest.mark.django_db
def test_the_message_log_is_pruned_after_its_retention(settings, account):
    settings.OCPP_MESSAGE_LOG_RETENTION_DAYS = 7
    box = ChargeBoxFactory(account=account)
    old = OcppMessageFactory(charge_box=box, created_at=timezone.now() - timedelta(days=8))
    recent = OcppMessageFactory(charge_box=box, created_at=timezone.now() - timedelta(days=6))
    assert prune_task.apply().get() == 1  # runs the Celery task here, with or without a broker
    assert list(OcppMessage.objects.all()) == [recent]
    assert message_log_prune() == 0
    assert not OcppMessage.objects.filter(pk=old.pk).exists()
