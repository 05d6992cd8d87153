import pytest

from powerfill.accounts.services import api_token_create, operators_group_sync

from ..factories import (
    AccountFactory,
    AllocationRunFactory,
    CdrFactory,
    ChargeBoxFactory,
    ChargerEventFactory,
    ChargingProfileFactory,
    ConnectorStatusFactory,
    InstalledCertificateFactory,
    LocalAuthListEntryFactory,
    LocationFactory,
    NodeFactory,
    OcpiIdentityFactory,
    OcppMessageFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagGroupPermissionFactory,
    OcppTagPermissionFactory,
    OperationTaskFactory,
    OperatorUserFactory,
    OutboxMessageFactory,
    PartnerLocationFactory,
    PartnerObjectFactory,
    PartnerTokenFactory,
    PartyFactory,
    PriorityChangeFactory,
    ReceivedCommandFactory,
    ReservationFactory,
    SentChargingProfileFactory,
    SentCommandFactory,
    TariffFactory,
    TimeOfUseWindowFactory,
    TransactionFactory,
    UnknownChargeBoxFactory,
    UserFactory,
)

# One way to make an object of each model the admin manages, within an account.
MAKERS = {
    "accounts.account": lambda account: account,
    "accounts.operatoruser": lambda account: OperatorUserFactory(account=account),
    "accounts.apitoken": lambda account: api_token_create(account=account, name="admin test")[0],
    "sites.node": lambda account: NodeFactory(account=account),
    "ocpp_core.chargebox": lambda account: ChargeBoxFactory(account=account),
    "ocpp_core.ocpptag": lambda account: OcppTagFactory(account=account),
    "ocpp_core.user": lambda account: UserFactory(account=account),
    "ocpp_core.ocpptaggroup": lambda account: OcppTagGroupFactory(
        account=account, ocpp_tags=[OcppTagFactory(account=account)]
    ),
    "ocpp_core.transaction": lambda account: TransactionFactory(charge_box=ChargeBoxFactory(account=account)),
    "ocpp_core.connectorstatus": lambda account: ConnectorStatusFactory(charge_box__account=account),
    "ocpp_core.unknownchargebox": lambda account: UnknownChargeBoxFactory(),
    "ocpp_core.reservation": lambda account: ReservationFactory(charge_box__account=account),
    "ocpp_core.chargingprofile": lambda account: ChargingProfileFactory(
        account=account, description=f"Profile of {account}"
    ),
    "ocpp_core.ocppmessage": lambda account: OcppMessageFactory(charge_box__account=account),
    "ocpp_core.chargerevent": lambda account: ChargerEventFactory(charge_box__account=account),
    "ocpp_core.operationtask": lambda account: OperationTaskFactory(account=account),
    "ocpp_core.localauthlistentry": lambda account: LocalAuthListEntryFactory(charge_box__account=account),
    "ocpp_core.installedcertificate": lambda account: InstalledCertificateFactory(charge_box__account=account),
    "permissions.ocpptagpermission": lambda account: OcppTagPermissionFactory(ocpp_tag__account=account),
    "permissions.ocpptaggrouppermission": lambda account: OcppTagGroupPermissionFactory(
        ocpp_tag_group__account=account
    ),
    "priority.prioritychange": lambda account: PriorityChangeFactory(connector__charge_box__account=account),
    "priority.timeofusewindow": lambda account: TimeOfUseWindowFactory(node__account=account),
    "priority.allocationrun": lambda account: AllocationRunFactory(root__account=account),
    "roaming.ocpiidentity": lambda account: OcpiIdentityFactory(account=account),
    "roaming.party": lambda account: PartyFactory(account=account),
    "roaming.location": lambda account: LocationFactory(identity__account=account),
    "roaming.partnerlocation": lambda account: PartnerLocationFactory(partner__account=account),
    "roaming.partnertoken": lambda account: PartnerTokenFactory(partner__account=account),
    "roaming.tariff": lambda account: TariffFactory(identity__account=account),
    "roaming.cdr": lambda account: CdrFactory(partner__account=account),
    "roaming.partnerobject": lambda account: PartnerObjectFactory(partner__account=account),
    "roaming.receivedcommand": lambda account: ReceivedCommandFactory(partner__account=account),
    "roaming.sentcommand": lambda account: SentCommandFactory(partner__account=account),
    "roaming.sentchargingprofile": lambda account: SentChargingProfileFactory(partner__account=account),
    "roaming.outboxmessage": lambda account: OutboxMessageFactory(partner__account=account),
}


def make(model_label: str, account=None):
    return MAKERS[model_label](account or AccountFactory())


@pytest.fixture
def superuser_client(client, db):
    user = OperatorUserFactory(username="root", is_superuser=True, account=None)
    client.force_login(user)
    return client


@pytest.fixture
def operator(account):
    user = OperatorUserFactory(username="staff", account=account)
    user.groups.add(operators_group_sync())
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client
