"""Demo data for the quick start: the platform docs' example site (a building with floors, wings and private
parking lots), its charge boxes, tags and their holders, a tag group, permissions, an operator login and an API
token. Everything goes through the same services as the API and the admin. Loading twice changes nothing but the
printed passwords and token."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector, OcppTag
from ocpp_core.services import registry as ocpp_services
from permissions.services import permission_grant
from powerfill.accounts.services import account_get_or_create, api_token_create, operators_group_sync
from roaming.models import Location, OcpiIdentity, Tariff
from roaming.services.locations import location_save
from roaming.services.tariffs import tariff_save
from sites import services as site_services
from sites.models import Node

DEMO_ACCOUNT = "Demo Operator"

# Platform docs, example 5: parking lots X, Y, Z on floor 1 (one private station each), one shared group of
# stations on floor 2, and floor 3 split into a left and a right wing.
DEMO_SITE = {
    "name": "Building A",
    "max_current_a": 250,
    "children": [
        {
            "name": "Floor 1",
            "children": [
                {"name": "Parking lot X", "charge_box_ids": ["CB-X"]},
                {"name": "Parking lot Y", "charge_box_ids": ["CB-Y"]},
                {"name": "Parking lot Z", "charge_box_ids": ["CB-Z"]},
            ],
        },
        {"name": "Floor 2", "max_current_a": 63, "charge_box_ids": ["CB-201", "CB-202", "CB-203"]},
        {
            "name": "Floor 3",
            "children": [
                {"name": "Left wing", "max_current_a": 32, "charge_box_ids": ["CB-3L1", "CB-3L2"]},
                {"name": "Right wing", "max_current_a": 32, "charge_box_ids": ["CB-3R1", "CB-3R2"]},
            ],
        },
    ],
}

# 0.39 EUR per kWh and, after the first two hours, 2 EUR per hour of parking, VAT 19 %.
DEMO_TARIFF_ELEMENTS = [
    {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1}]},
    {
        "price_components": [{"type": "PARKING_TIME", "price": 2.0, "vat": 19.0, "step_size": 300}],
        "restrictions": {"min_duration": 7200},
    },
]

# idTag: (first name, last name, note)
DEMO_TAGS = {
    "RESIDENT-X": ("Xenia", "Xu", "Resident, parking lot X"),
    "RESIDENT-Y": ("Yusuf", "Yilmaz", "Resident, parking lot Y"),
    "RESIDENT-Z": ("Zoe", "Zimmer", "Resident, parking lot Z"),
    "FLOOR2-ANNA": ("Anna", "Berg", "Floor 2 resident"),
    "FLOOR2-BEN": ("Ben", "Costa", "Floor 2 resident"),
    "MANAGER-F3": ("Maria", "Keller", "Facility manager of floor 3"),
    "ADMIN-ALL": ("Sam", "Admin", "Site administrator: every station"),
    "LOST-CARD": ("Lars", "Lost", "Reported lost: blocked"),
    "OLD-CARD": ("Olga", "Old", "Expired card"),
}


@dataclass
class DemoCredentials:
    admin_username: str
    admin_password: str
    operator_username: str
    operator_password: str
    api_token: str


@transaction.atomic
def demo_load() -> DemoCredentials:
    account, _ = account_get_or_create(name=DEMO_ACCOUNT)
    credentials = DemoCredentials(
        admin_username="admin",
        admin_password=secrets.token_urlsafe(12),
        operator_username="operator",
        operator_password=secrets.token_urlsafe(12),
        api_token="",
    )
    _login(credentials.admin_username, credentials.admin_password, superuser=True, account=account)
    _login(credentials.operator_username, credentials.operator_password, superuser=False, account=account)

    for charge_box_id in _charge_box_ids(DEMO_SITE):
        if not ChargeBox.objects.filter(charge_box_id=charge_box_id).exists():
            charge_box = ocpp_services.charge_box_create(
                account=account, charge_box_id=charge_box_id, description=f"Demo station {charge_box_id}"
            )
            Connector.objects.create(charge_box=charge_box, connector_id=1, evse_id=f"DE*PWF*E{charge_box_id}*1")

    root = Node.objects.filter(account=account, parent=None, name=DEMO_SITE["name"]).first()
    if root is None:
        root = site_services.site_create(account=account, spec=DEMO_SITE)
    nodes = {node.name: node for node in root.get_descendants(include_self=True)}

    tags = {}
    for id_tag, (first_name, last_name, note) in DEMO_TAGS.items():
        tag = OcppTag.objects.filter(account=account, id_tag=id_tag).first()
        if tag is None:
            holder = ocpp_services.user_create(
                account=account,
                first_name=first_name,
                last_name=last_name,
                email=f"{first_name.lower()}@example.com",
            )
            tag = ocpp_services.ocpp_tag_create(account=account, id_tag=id_tag, note=note, user=holder)
        tags[id_tag] = tag
    ocpp_services.ocpp_tag_set_blocked(ocpp_tag=tags["LOST-CARD"], blocked=True)
    ocpp_services.ocpp_tag_expire(ocpp_tag=tags["OLD-CARD"], at=timezone.now() - timedelta(days=30))

    for lot in "XYZ":
        permission_grant(holder=tags[f"RESIDENT-{lot}"], node=nodes[f"Parking lot {lot}"])
    permission_grant(holder=tags["MANAGER-F3"], node=nodes["Floor 3"], applies_to_all_children=True)
    permission_grant(holder=tags["ADMIN-ALL"], node=root, applies_to_all_children=True)
    permission_grant(holder=tags["LOST-CARD"], node=nodes["Floor 2"])
    permission_grant(holder=tags["OLD-CARD"], node=nodes["Floor 2"])

    group = account.ocpp_tag_groups.filter(name="Floor 2 residents").first()
    if group is None:
        group = ocpp_services.ocpp_tag_group_create(account=account, name="Floor 2 residents")
    ocpp_services.ocpp_tag_group_add_tags(group=group, ocpp_tags=[tags["FLOOR2-ANNA"], tags["FLOOR2-BEN"]])
    permission_grant(holder=group, node=nodes["Floor 2"])

    _roaming(account, nodes["Floor 2"])
    _, credentials.api_token = api_token_create(account=account, name="demo")
    return credentials


def _roaming(account, public_node: Node) -> None:
    """OCPI: the account is DE*PWF; floor 2's shared stations are a published location with a tariff, ready for a
    roaming partner (add one under "Parties")."""
    identity, _ = OcpiIdentity.objects.get_or_create(
        account=account, country_code="DE", party_id="PWF", defaults={"name": DEMO_ACCOUNT}
    )
    tariff = Tariff.objects.filter(identity=identity, ocpi_id="STANDARD").first() or tariff_save(
        tariff=Tariff(identity=identity, ocpi_id="STANDARD", currency="EUR", elements=DEMO_TARIFF_ELEMENTS)
    )
    if not Location.objects.filter(node=public_node).exists():
        location_save(
            location=Location(
                identity=identity,
                node=public_node,
                ocpi_id="BUILDING-A-F2",
                name="Building A, floor 2",
                address="Hauptstrasse 1",
                city="Berlin",
                postal_code="10115",
                country="DEU",
                latitude="52.520008",
                longitude="13.404954",
                time_zone="Europe/Berlin",
                parking_type="PARKING_GARAGE",
                tariff=tariff,
            )  # fmt: skip
        )


def _login(username: str, password: str, *, superuser: bool, account) -> None:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.account = account
    user.is_staff = True
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    if not superuser:
        user.groups.add(operators_group_sync())


def _charge_box_ids(spec) -> list[str]:
    nested = [i for child in spec.get("children", []) for i in _charge_box_ids(child)]
    return list(spec.get("charge_box_ids", [])) + nested
