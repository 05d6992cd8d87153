"""factory-boy factories. Nodes go through mptt's own insert, so trees built here are consistent."""

from datetime import time, timedelta

import factory
from django.utils import timezone

from ocpp_core.choices import ReservationStatus
from ocpp_core.models import (
    ChargeBox,
    ChargerEvent,
    ChargingProfile,
    Connector,
    ConnectorStatus,
    InstalledCertificate,
    LocalAuthListEntry,
    OcppMessage,
    OcppTag,
    OcppTagGroup,
    OperationTask,
    Reservation,
    Transaction,
    UnknownChargeBox,
    User,
)
from permissions.models import OcppTagGroupPermission, OcppTagPermission
from powerfill.accounts.models import Account, OperatorUser
from priority.choices import PriorityChangeSource
from priority.models import AllocationRun, ConnectorLoad, PriorityChange, TimeOfUseWindow
from roaming.choices import OcpiRole, RegistrationState
from roaming.models import (
    Cdr,
    Location,
    OcpiIdentity,
    OutboxMessage,
    PartnerLocation,
    PartnerObject,
    PartnerToken,
    Party,
    PartyRole,
    ReceivedCommand,
    SentChargingProfile,
    SentCommand,
    Tariff,
)
from sites.models import Node


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Operator {n}")


class OperatorUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OperatorUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"operator{n}")
    account = factory.SubFactory(AccountFactory)
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class NodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Node

    account = factory.LazyAttribute(lambda node: node.parent.account if node.parent else AccountFactory())
    name = factory.Sequence(lambda n: f"Node {n}")
    parent = None


class ChargeBoxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargeBox

    account = factory.LazyAttribute(lambda box: box.node.account if box.node else AccountFactory())
    charge_box_id = factory.Sequence(lambda n: f"CB-{n:04d}")
    node = None


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")


class OcppTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTag

    account = factory.SubFactory(AccountFactory)
    id_tag = factory.Sequence(lambda n: f"TAG{n:05d}")


class OcppTagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagGroup
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Group {n}")

    @factory.post_generation
    def ocpp_tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.ocpp_tags.add(*extracted)


class OcppTagPermissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagPermission

    ocpp_tag = factory.SubFactory(OcppTagFactory)
    node = factory.SubFactory(NodeFactory, account=factory.SelfAttribute("..ocpp_tag.account"))
    applies_to_all_children = False


class OcppTagGroupPermissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagGroupPermission

    ocpp_tag_group = factory.SubFactory(OcppTagGroupFactory)
    node = factory.SubFactory(NodeFactory, account=factory.SelfAttribute("..ocpp_tag_group.account"))
    applies_to_all_children = False


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1
    ocpp_tag = factory.SubFactory(OcppTagFactory, account=factory.SelfAttribute("..charge_box.account"))
    id_tag = factory.LazyAttribute(lambda tx: tx.ocpp_tag.id_tag if tx.ocpp_tag else "UNKNOWN")
    started_at = factory.LazyFunction(timezone.now)
    meter_start = 1000


class ConnectorStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectorStatus

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1
    status = "Available"
    error_code = "NoError"


class UnknownChargeBoxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UnknownChargeBox

    charge_box_id = factory.Sequence(lambda n: f"STRANGER-{n}")
    last_seen_at = factory.LazyFunction(timezone.now)


class ReservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reservation

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1
    ocpp_tag = factory.SubFactory(OcppTagFactory, account=factory.SelfAttribute("..charge_box.account"))
    expiry = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    status = ReservationStatus.ACCEPTED


class ChargingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargingProfile

    account = factory.SubFactory(AccountFactory)
    purpose = "TxDefaultProfile"
    periods = factory.LazyFunction(lambda: [{"startPeriod": 0, "limit": 16.0}])


class OcppMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppMessage

    charge_box = factory.SubFactory(ChargeBoxFactory)
    direction = "in"
    message_type = 2
    unique_id = factory.Sequence(lambda n: f"m{n}")
    action = "Heartbeat"
    payload = factory.LazyAttribute(lambda m: f'[2,"{m.unique_id}","Heartbeat",{{}}]')
    created_at = factory.LazyFunction(timezone.now)


class ChargerEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargerEvent

    charge_box = factory.SubFactory(ChargeBoxFactory)
    kind = "DataTransfer"
    payload = factory.LazyFunction(lambda: {"vendorId": "acme"})


class OperationTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OperationTask

    account = factory.SubFactory(AccountFactory)
    action = "Reset"
    params = factory.LazyFunction(lambda: {"resetType": "Soft"})


class LocalAuthListEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LocalAuthListEntry

    charge_box = factory.SubFactory(ChargeBoxFactory)
    id_tag = factory.Sequence(lambda n: f"LL{n}")
    status = "Accepted"


class InstalledCertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstalledCertificate

    charge_box = factory.SubFactory(ChargeBoxFactory)
    certificate_type = "CentralSystemRootCertificate"
    hash_algorithm = "SHA256"
    issuer_name_hash = "aa"
    issuer_key_hash = "bb"
    serial_number = factory.Sequence(lambda n: f"{n:08x}")


class PriorityChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriorityChange

    connector = factory.SubFactory(ConnectorFactory)
    priority = 5
    previous_priority = 0
    source = PriorityChangeSource.API
    changed_by = "tests"


class ConnectorLoadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectorLoad

    connector = factory.SubFactory(ConnectorFactory)


class TimeOfUseWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOfUseWindow

    node = factory.SubFactory(NodeFactory)
    name = factory.Sequence(lambda n: f"Peak {n}")
    starts_at = time(17)
    ends_at = time(20)


class AllocationRunFactory(factory.django.DjangoModelFactory):
    """A recompute of a one-node site with a 32 A limit (load management writes real ones)."""

    class Meta:
        model = AllocationRun

    root = factory.SubFactory(NodeFactory, max_current_a=32)
    reason = "periodic"
    duration_ms = 3.5
    nodes = factory.LazyAttribute(
        lambda run: {str(run.root.pk): {"limit": 32, "allocated": [16.0, 16.0, 16.0], "measured": [10.0, 11.0, 9.5]}}
    )


class OcpiIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcpiIdentity

    account = factory.SubFactory(AccountFactory)
    country_code = "DE"
    party_id = factory.Sequence(lambda n: f"P{n:02d}"[-3:].rjust(3, "0"))
    name = factory.LazyAttribute(lambda identity: identity.account.name)


class PartyFactory(factory.django.DjangoModelFactory):
    """A registered roaming partner that plays CPO and eMSP (the handshake itself: roaming.services.credentials)."""

    class Meta:
        model = Party
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Partner {n}")
    state = RegistrationState.REGISTERED
    versions_url = factory.Sequence(lambda n: f"https://partner-{n}.example/ocpi/versions")
    version = "2.2.1"
    outgoing_token = factory.Sequence(lambda n: f"outgoing-token-{n}")
    role = factory.RelatedFactory("tests.factories.PartyRoleFactory", factory_related_name="partner", role=OcpiRole.CPO)


class PartyRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartyRole

    partner = factory.SubFactory(PartyFactory, role=None)
    role = OcpiRole.EMSP
    country_code = "NL"
    party_id = factory.Sequence(lambda n: f"R{n:02d}"[-3:].rjust(3, "0"))
    business_details = factory.LazyAttribute(lambda role: {"name": role.partner.name})


class LocationFactory(factory.django.DjangoModelFactory):
    """A published location on its own site node (the node's subtree's charge boxes are its EVSEs)."""

    class Meta:
        model = Location

    identity = factory.SubFactory(OcpiIdentityFactory)
    node = factory.SubFactory(NodeFactory, account=factory.SelfAttribute("..identity.account"))
    ocpi_id = factory.Sequence(lambda n: f"LOC{n}")
    name = factory.LazyAttribute(lambda location: location.node.name)
    address = "Hauptstrasse 1"
    city = "Berlin"
    postal_code = "10115"
    country = "DEU"
    latitude = "52.520008"
    longitude = "13.404954"
    time_zone = "Europe/Berlin"


class TariffFactory(factory.django.DjangoModelFactory):
    """A tariff of 0.30 EUR per kWh (roaming.services.tariffs.tariff_save also records its versions)."""

    class Meta:
        model = Tariff

    identity = factory.SubFactory(OcpiIdentityFactory)
    ocpi_id = factory.Sequence(lambda n: f"TARIFF{n}")
    currency = "EUR"
    elements = factory.LazyFunction(lambda: [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}])


class CdrFactory(factory.django.DjangoModelFactory):
    """A CDR we issued for a partner's session (roaming.services.sessions.cdr_issue makes real ones)."""

    class Meta:
        model = Cdr

    partner = factory.SubFactory(PartyFactory)
    transaction = factory.SubFactory(
        TransactionFactory, charge_box__account=factory.SelfAttribute("...partner.account")
    )
    ocpi_id = factory.Sequence(lambda n: f"ACM{n}")
    data = factory.LazyAttribute(lambda cdr: {"id": cdr.ocpi_id})


class ReceivedCommandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReceivedCommand

    partner = factory.SubFactory(PartyFactory)
    command = "STOP_SESSION"
    data = factory.LazyFunction(lambda: {"response_url": "https://emsp.example/r/1", "session_id": "1"})
    response = "ACCEPTED"


class SentCommandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SentCommand

    partner = factory.SubFactory(PartyFactory)
    command = "STOP_SESSION"
    data = factory.LazyFunction(lambda: {"response_url": "https://us.example/r/1", "session_id": "1"})


class SentChargingProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SentChargingProfile

    partner = factory.SubFactory(PartyFactory)
    session_id = "1"
    action = "CLEAR"
    data = factory.LazyFunction(lambda: {"response_url": "https://us.example/r/1"})


class PartnerObjectFactory(factory.django.DjangoModelFactory):
    """A partner CPO's session as we hold it."""

    class Meta:
        model = PartnerObject

    partner = factory.SubFactory(PartyFactory)
    module = "sessions"
    country_code = "BE"
    party_id = "BEC"
    ocpi_id = factory.Sequence(lambda n: f"S{n}")
    data = factory.LazyAttribute(lambda row: {"id": row.ocpi_id})
    last_updated = factory.LazyFunction(timezone.now)


class PartnerLocationFactory(factory.django.DjangoModelFactory):
    """A partner CPO's location as we hold it (the object itself: the spec's example)."""

    class Meta:
        model = PartnerLocation

    partner = factory.SubFactory(PartyFactory)
    country_code = "BE"
    party_id = "BEC"
    ocpi_id = factory.Sequence(lambda n: f"LOC{n}")
    data = factory.LazyAttribute(lambda row: {"country_code": "BE", "party_id": "BEC", "id": row.ocpi_id})
    last_updated = factory.LazyFunction(timezone.now)


class PartnerTokenFactory(factory.django.DjangoModelFactory):
    """A partner eMSP's token as we hold it (roaming.services.partner_tokens also mirrors it as an OCPP tag)."""

    class Meta:
        model = PartnerToken

    partner = factory.SubFactory(PartyFactory)
    country_code = "DE"
    party_id = "TNM"
    uid = factory.Sequence(lambda n: f"0{n:07d}")
    type = "RFID"
    contract_id = factory.Sequence(lambda n: f"DE8ACC{n:08d}")
    valid = True
    whitelist = "ALWAYS"
    data = factory.LazyAttribute(lambda row: {"uid": row.uid, "type": row.type})
    last_updated = factory.LazyFunction(timezone.now)


class OutboxMessageFactory(factory.django.DjangoModelFactory):
    """A change waiting to be pushed to a partner (roaming.services.outbox writes real ones)."""

    class Meta:
        model = OutboxMessage

    partner = factory.SubFactory(PartyFactory)
    key = factory.Sequence(lambda n: f"locations:DE:ACM:LOC{n}")
    method = "PUT"
    url = factory.LazyAttribute(
        lambda m: f"https://emsp.example/ocpi/emsp/2.2.1/locations/DE/ACM/{m.key.split(':')[-1]}"
    )
    body = factory.LazyAttribute(lambda m: {"id": m.key.split(":")[-1]})
    next_attempt_at = factory.LazyFunction(timezone.now)
