"""Our roaming sessions and CDRs as OCPI objects (we are the CPO). A roaming session is a transaction at one of our
charge boxes by a partner eMSP's token (roaming.models.PartnerToken); it goes to that eMSP only. Its energy and
cost so far come from the transaction's meter readings, priced by the version of the location's tariff in force
when it started (roaming.pricing)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from ocpp_core.models import Connector, MeterValue, Transaction
from ocpp_core.selectors import transaction_meter_values

from .choices import CommandResultType, CommandType
from .locations import location_objects, locations_of
from .models import Location, PartnerToken, ReceivedCommand
from .pricing import MeterSample, PricedSession, price_session
from .protocol import ci_lookup, timestamp
from .tariffs import tariff_version_at

START_COMMAND_WINDOW = timedelta(minutes=5)


def roaming_transactions(account_id: int) -> QuerySet[Transaction]:
    """The account's transactions by partners' tokens, each with `last_updated`: the latest of its start, stop and
    newest meter reading (a running session changes with every reading)."""
    newest_reading = Subquery(
        MeterValue.objects.filter(transaction=OuterRef("pk")).order_by("-received_at").values("received_at")[:1]
    )
    # Only sessions OCPI can tell: at an EVSE (connector > 0) of a charge box under a published location.
    published = Location.objects.filter(
        node__tree_id=OuterRef("charge_box__node__tree_id"),
        node__lft__lte=OuterRef("charge_box__node__lft"),
        node__rght__gte=OuterRef("charge_box__node__rght"),
    )
    return (
        Transaction.objects.filter(charge_box__account_id=account_id, ocpp_tag__partner_token__isnull=False)
        .filter(Exists(published), connector_id__gt=0)
        .select_related("charge_box__node", "ocpp_tag__partner_token__partner")
        .annotate(
            last_updated=Greatest(
                "created_at",
                Coalesce("stopped_at", "created_at"),
                Coalesce(newest_reading, "created_at"),
            )
        )
    )


def partner_running_session(party, session_id: str) -> Transaction | None:
    """A running session of the partner's customers by its OCPI id (our transaction id), or None."""
    if not (session_id.isascii() and session_id.isdigit()):  # "²".isdigit() holds too, and int() refuses it
        return None
    return (
        Transaction.objects.filter(pk=int(session_id), ocpp_tag__partner_token__partner=party, stopped_at=None)
        .select_related("charge_box")
        .first()
    )


def location_of_charge_box(charge_box) -> Location | None:
    """The published location whose node holds the charge box: the nearest one above (or at) its node."""
    node = charge_box.node
    if node is None:
        return None
    candidates = Location.objects.filter(
        node__tree_id=node.tree_id, node__lft__lte=node.lft, node__rght__gte=node.rght
    ).order_by("-node__lft")
    location = candidates.values_list("pk", flat=True).first()
    return None if location is None else locations_of(charge_box.account_id).select_related("tariff").get(pk=location)


@dataclass
class SessionFacts:
    """What a session and its CDR are made of: the transaction, the eMSP's token, where it ran and its price."""

    transaction: Transaction
    token: PartnerToken
    location: Location
    started_by: "ReceivedCommand | None"  # the eMSP's START_SESSION, when the session came of one
    location_object: dict
    evse: dict
    tariff: dict | None
    priced: PricedSession


def session_facts(transaction: Transaction) -> SessionFacts | None:
    """None when the session cannot be told in OCPI: not by a partner's token, or at no published location."""
    token = getattr(transaction.ocpp_tag, "partner_token", None) if transaction.ocpp_tag_id else None
    location = location_of_charge_box(transaction.charge_box)
    if token is None or location is None:
        return None
    (location_object,) = location_objects([location])
    connector_pk = Connector.objects.filter(
        charge_box_id=transaction.charge_box_id, connector_id=transaction.connector_id
    ).values_list("pk", flat=True)
    uid = str(connector_pk.first())  # roaming.locations.evse_uid: the connector's row
    evse = next((e for e in location_object.get("evses", []) if e["uid"] == uid), None)
    if evse is None:
        return None
    version = tariff_version_at(location.tariff, transaction.started_at) if location.tariff_id else None
    tariff = version.data if version else None
    end = transaction.stopped_at or timezone.now()
    priced = price_session(
        tariff=tariff,
        started_at=transaction.started_at,
        stopped_at=max(end, transaction.started_at),
        samples=_samples(transaction, end),
        time_zone=location.time_zone,
    )
    started_by = _start_command(transaction, token)
    return SessionFacts(transaction, token, location, started_by, location_object, evse, tariff, priced)


def _start_command(transaction: Transaction, token: PartnerToken) -> ReceivedCommand | None:
    """The eMSP's START_SESSION this session answers: the latest accepted one for the token at this charge box,
    carried out shortly before the charger started (chargers start within a minute or two of a remote start)."""
    candidates = (
        ReceivedCommand.objects.filter(
            partner_id=token.partner_id,
            command=CommandType.START_SESSION,
            result=CommandResultType.ACCEPTED,
            **ci_lookup(data__token__uid=token.uid),  # the token as the command named it, in any case
            finished_at__gte=transaction.started_at - START_COMMAND_WINDOW,
            created_at__lte=transaction.started_at + timedelta(seconds=5),
        )
        .select_related("operation_task")
        .order_by("-finished_at")
    )
    box = transaction.charge_box.charge_box_id
    return next((c for c in candidates if c.operation_task and box in c.operation_task.charge_box_ids), None)


def _auth(facts: SessionFacts) -> dict:
    """How the session was authorized: by the eMSP's START_SESSION, by its real-time answer at this charge box
    shortly before the start, or from the token we hold; with the eMSP's reference when it gave one."""
    if facts.started_by is not None:
        reference = facts.started_by.data.get("authorization_reference")
        return {"auth_method": "COMMAND", **({"authorization_reference": reference} if reference else {})}
    asked = facts.token.last_authorization or {}
    transaction = facts.transaction
    if asked.get("charge_box") == transaction.charge_box_id and asked.get("at"):
        at = datetime.fromisoformat(asked["at"])
        if transaction.started_at - START_COMMAND_WINDOW <= at <= transaction.started_at + timedelta(seconds=5):
            reference = asked.get("reference")
            return {"auth_method": "AUTH_REQUEST", **({"authorization_reference": reference} if reference else {})}
    return {"auth_method": "WHITELIST"}


def session_object(facts: SessionFacts) -> dict:
    transaction = facts.transaction
    status = "ACTIVE" if transaction.is_active else "COMPLETED"
    if transaction.start_status and transaction.start_status != "Accepted":
        status = "INVALID"
    body = {
        "country_code": facts.location.identity.country_code,
        "party_id": facts.location.identity.party_id,
        "id": str(transaction.pk),
        "start_date_time": timestamp(transaction.started_at),
        "end_date_time": transaction.stopped_at and timestamp(transaction.stopped_at),
        "cdr_token": cdr_token(facts.token),
        **_auth(facts),
        "location_id": facts.location.ocpi_id,
        "evse_uid": facts.evse["uid"],
        "connector_id": facts.evse["connectors"][0]["id"],
        "currency": (facts.tariff or {}).get("currency", settings.OCPI_DEFAULT_CURRENCY),
        **facts.priced.session_fields(),
        "status": status,
        "last_updated": timestamp(getattr(transaction, "last_updated", None) or timezone.now()),
    }
    if not body["charging_periods"]:
        del body["charging_periods"]
    return {key: value for key, value in body.items() if value is not None}


def cdr_object(facts: SessionFacts, *, cdr_id: str, issued_at) -> dict:
    """The CDR of a session that ended, as issued at `issued_at` (also its last_updated: a CDR never changes)."""
    transaction, location, evse = facts.transaction, facts.location_object, facts.evse
    connector = evse["connectors"][0]
    cdr_location = {
        "id": location["id"],
        "name": location.get("name"),
        "address": location["address"],
        "city": location["city"],
        "postal_code": location.get("postal_code"),
        "state": location.get("state"),
        "country": location["country"],
        "coordinates": location["coordinates"],
        "evse_uid": evse["uid"],
        "evse_id": evse.get("evse_id", evse["uid"]),
        "connector_id": connector["id"],
        "connector_standard": connector["standard"],
        "connector_format": connector["format"],
        "connector_power_type": connector["power_type"],
    }
    body = {
        "country_code": facts.location.identity.country_code,
        "party_id": facts.location.identity.party_id,
        "id": cdr_id,
        "start_date_time": timestamp(transaction.started_at),
        "end_date_time": timestamp(transaction.stopped_at),
        "session_id": str(transaction.pk),
        "cdr_token": cdr_token(facts.token),
        **_auth(facts),
        "cdr_location": {key: value for key, value in cdr_location.items() if value is not None},
        "currency": (facts.tariff or {}).get("currency", settings.OCPI_DEFAULT_CURRENCY),
        "tariffs": [facts.tariff] if facts.tariff else None,
        **facts.priced.cdr_fields(),
        "last_updated": timestamp(issued_at),
    }
    if not body["charging_periods"]:  # a CDR has at least one: a session without readings is one empty period
        body["charging_periods"] = [
            {"start_date_time": body["start_date_time"], "dimensions": [{"type": "ENERGY", "volume": 0}]}
        ]
    return {key: value for key, value in body.items() if value is not None}


def cdr_token(token: PartnerToken) -> dict:
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


def _samples(transaction: Transaction, end) -> list[MeterSample]:
    """Energy since the start at each register reading, and at the stop (meter_stop)."""
    samples = [MeterSample(at=transaction.started_at, energy_wh=0)]
    readings = transaction_meter_values(transaction=transaction, energy_only=True).filter(
        phase="", numeric_value__isnull=False, unit__in=("", "Wh", "kWh")
    )
    for reading in readings:
        wh = reading.numeric_value * (1000 if reading.unit == "kWh" else 1)
        if transaction.started_at < reading.timestamp <= end:
            samples.append(MeterSample(at=reading.timestamp, energy_wh=max(0.0, wh - transaction.meter_start)))
    if transaction.meter_stop is not None:
        samples.append(MeterSample(at=end, energy_wh=max(0.0, transaction.meter_stop - transaction.meter_start)))
    # Readings are cumulative: a reading lower than an earlier one (a reset, a replay) must not undo energy.
    cumulative, top = [], 0.0
    for sample in sorted(samples, key=lambda s: s.at):
        top = max(top, sample.energy_wh)
        cumulative.append(MeterSample(at=sample.at, energy_wh=top))
    return cumulative
