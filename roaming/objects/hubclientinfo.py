"""Hub client info module objects: ClientInfo (a hub tells its clients which other parties are connected)."""

from rest_framework import serializers

from ..choices import OcpiRole
from .common import OcpiDateTimeField, OcpiObject

CONNECTION_STATUSES = ["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]


class ClientInfoSerializer(OcpiObject):
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    role = serializers.ChoiceField(choices=OcpiRole.values)
    status = serializers.ChoiceField(choices=CONNECTION_STATUSES)
    last_updated = OcpiDateTimeField()
