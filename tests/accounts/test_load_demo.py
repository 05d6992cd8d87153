"""The quick start's `load_demo`: the example site, tags, permissions and logins, and a published OCPI location with
a tariff; loading twice changes nothing but the printed secrets."""

import pytest
from django.core.management import call_command

from ocpp_core.models import ChargeBox, OcppTag
from permissions.selectors import tag_may_charge
from roaming.locations import location_objects, locations_of
from roaming.models import Location, Tariff, TariffVersion
from roaming.objects import LocationSerializer, TariffSerializer
from roaming.tariffs import tariff_object

pytestmark = pytest.mark.django_db


def test_the_demo_loads_twice_to_the_same_state_with_a_published_location(capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    counts = (ChargeBox.objects.count(), OcppTag.objects.count(), Location.objects.count(), Tariff.objects.count())
    call_command("load_demo")
    again = capsys.readouterr().out

    assert counts == (10, 9, 1, 1)
    assert (ChargeBox.objects.count(), OcppTag.objects.count(), Location.objects.count()) == counts[:3]
    assert TariffVersion.objects.count() == 1  # not saved again
    assert "admin" in first and first != again  # new passwords and token each time
    assert tag_may_charge(id_tag="FLOOR2-ANNA", charge_box=ChargeBox.objects.get(charge_box_id="CB-201")).allowed
    assert not tag_may_charge(id_tag="RESIDENT-X", charge_box=ChargeBox.objects.get(charge_box_id="CB-201")).allowed

    location = Location.objects.get()
    (body,) = location_objects([locations_of(location.identity.account_id).get()])
    assert LocationSerializer(data=body).is_valid(), body
    assert len(body["evses"]) == 3 and body["evses"][0]["evse_id"].startswith("DE*PWF*E")
    assert body["evses"][0]["connectors"][0]["tariff_ids"] == ["STANDARD"]
    assert TariffSerializer(data=tariff_object(Tariff.objects.get())).is_valid()
