"""Commands (commands module). As CPO we receive them from partner eMSPs: checked at once (answered with a
CommandResponse), then carried out by a Celery worker as the OCPP operation they map to, whose outcome goes to the
eMSP's response_url as a CommandResult, through the outbox (retried, in order). As eMSP we send them to partner
CPOs and keep the result they post back to us.

    START_SESSION       RemoteStartTransaction (the token's OCPP tag, the EVSE's connector)
    STOP_SESSION        RemoteStopTransaction (the session is the transaction)
    RESERVE_NOW         ReserveNow
    CANCEL_RESERVATION  CancelReservation (of the reservation the eMSP's RESERVE_NOW made)
    UNLOCK_CONNECTOR    UnlockConnector
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from ocpp_core.choices import ReservationStatus
from ocpp_core.models import ChargeBox, Connector, Reservation, Transaction
from ocpp_core.operations import OPERATIONS
from ocpp_core.services.operations import operation_run

from .. import ocpi211
from ..choices import CommandResponseType, CommandResultType, CommandType, OcpiRole
from ..client import ocpi_request
from ..locations import locations_of
from ..models import Party, ReceivedCommand, SentCommand
from ..objects import COMMAND_SERIALIZERS, CommandResultSerializer, first_error
from ..ocpi211 import CommandResponse211Serializer
from ..protocol import SUPPORTED_VERSION, OcpiError, OcpiStatus, ci_lookup
from ..selectors import routing_headers
from ..sessions import partner_running_session
from .outbox import outbox_enqueue
from .partner_tokens import partner_token_put

# How long the eMSP should wait for the result: the charger's time to answer, and a worker's to take it up.
RESULT_WITHIN_SECONDS = int(settings.OCPP_CALL_TIMEOUT) + 30

# The charger's status in its answer, as the result the eMSP gets.
RESULT_OF_STATUS = {
    "Accepted": CommandResultType.ACCEPTED,
    "Unlocked": CommandResultType.ACCEPTED,
    "Rejected": CommandResultType.REJECTED,
    "Occupied": CommandResultType.EVSE_OCCUPIED,
    "Faulted": CommandResultType.EVSE_INOPERATIVE,
    "Unavailable": CommandResultType.EVSE_INOPERATIVE,
    "UnlockFailed": CommandResultType.FAILED,
    "NotSupported": CommandResultType.NOT_SUPPORTED,
}


class CommandRefused(Exception):
    def __init__(self, response: CommandResponseType, message: str):
        super().__init__(message)
        self.response, self.message = response, message


@dataclass(frozen=True)
class Operation:
    """The OCPP operation a command becomes: SteVe's action and params (ocpp_core.operations)."""

    action: str
    params: dict


def command_receive(*, party: Party, command: str, data) -> dict:
    """A command from a partner eMSP: the CommandResponse. Accepted commands are queued for a worker."""
    if command not in CommandType.values:
        return _response(CommandResponseType.NOT_SUPPORTED, f"{command} is not an OCPI 2.2.1 command.")
    serializer = COMMAND_SERIALIZERS[command](data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid {command}: {first_error(serializer.errors)}", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        )
    response_url_check(party, serializer.validated_data["response_url"])
    with transaction.atomic():
        try:
            operation = _operation_of(party, command, serializer.validated_data, data)
            if operation is not None:
                _ocpp_params(operation)
        except CommandRefused as refusal:
            ReceivedCommand.objects.create(
                partner=party, command=command, data=data, response=refusal.response, message=refusal.message
            )
            return _response(refusal.response, refusal.message)
        received = ReceivedCommand.objects.create(
            partner=party, command=command, data=data, response=CommandResponseType.ACCEPTED
        )
        transaction.on_commit(lambda: _run_soon(received.pk))
    return _response(CommandResponseType.ACCEPTED)


def command_run(received_pk: int) -> ReceivedCommand | None:
    """Carry out an accepted command once (a worker claims it) and queue its result for the eMSP."""
    now = timezone.now()
    if not ReceivedCommand.objects.filter(pk=received_pk, started_at=None).update(started_at=now):
        return None  # run already, or gone
    received = ReceivedCommand.objects.select_related("partner__account").get(pk=received_pk)
    serializer = COMMAND_SERIALIZERS[received.command](data=received.data)
    serializer.is_valid(raise_exception=True)
    try:
        operation = _operation_of(received.partner, received.command, serializer.validated_data, received.data)
        if operation is None:
            raise CommandRefused(CommandResultType.UNKNOWN_RESERVATION, "No reservation of yours with that id.")
        result, message = _carried_out(received, operation)
    except CommandRefused as refusal:
        result, message = refusal.response, refusal.message
    except (OcpiError, ValidationError, DjangoValidationError) as error:  # things changed since it was accepted
        result, message = CommandResultType.REJECTED, str(getattr(error, "message", error))
    received.result, received.message, received.finished_at = result, message[:512], timezone.now()
    with transaction.atomic():
        received.save()
        body = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message[:512]}]
        if received.partner.version == ocpi211.VERSION:
            body = ocpi211.command_result_as_211(body)
        outbox_enqueue(
            partner=received.partner,
            key=f"commands:{received.pk}",
            method="POST",
            url=received.data["response_url"],
            body=body,
        )
    return received


def _ocpp_params(operation: Operation) -> dict:
    """The operation's params as ocpp_core checks them (e.g. a reservation must expire in the future)."""
    serializer = OPERATIONS[operation.action].params(data=operation.params)
    if not serializer.is_valid():
        raise CommandRefused(CommandResponseType.REJECTED, f"Cannot be carried out: {first_error(serializer.errors)}")
    return serializer.validated_data


def _carried_out(received: ReceivedCommand, operation: Operation) -> tuple[str, str]:
    params = _ocpp_params(operation)
    task = operation_run(
        account=received.partner.account,
        action=operation.action,
        params=params,
        requested_by=f"OCPI {received.command} of {received.partner.name}",
    )
    received.operation_task = task
    if received.command == CommandType.RESERVE_NOW and task.success_responses:
        # The reservation this operation made: at this charge box, for this tag, accepted, since the command came.
        received.reservation = Reservation.objects.filter(
            charge_box__charge_box_id=params["chargeBoxIdList"][0],
            ocpp_tag__id_tag=params["idTag"],
            status=ReservationStatus.ACCEPTED,
            created_at__gte=received.created_at,
        ).first()
    if task.success_responses:
        status = task.success_responses[0]["response"]
        result = RESULT_OF_STATUS.get(status, CommandResultType.FAILED)
        if received.command == CommandType.CANCEL_RESERVATION and result == CommandResultType.ACCEPTED:
            result = CommandResultType.CANCELED_RESERVATION
        return result, f"The charger answered {status}."
    if task.error_responses:
        error = task.error_responses[0]
        return CommandResultType.FAILED, f"The charger answered {error['errorCode']}: {error['errorDescription']}"
    message = task.exceptions[0]["exceptionMessage"] if task.exceptions else "Not sent."
    timed_out = "No answer within" in message
    return (CommandResultType.TIMEOUT if timed_out else CommandResultType.REJECTED), message


def _operation_of(party: Party, command: str, valid: dict, data: dict) -> Operation | None:
    """The OCPP operation of a valid command, or CommandRefused saying why it cannot be carried out."""
    if command == CommandType.START_SESSION:
        tag = _tag_of(party, data["token"])
        box, connector = _evse(party, valid["location_id"], valid.get("evse_uid"), valid.get("connector_id"))
        params = {"chargeBoxIdList": [box.charge_box_id], "idTag": tag.id_tag, "connectorId": connector.connector_id}
        return Operation("RemoteStartTransaction", params)
    if command == CommandType.STOP_SESSION:
        session = _running_session(party, valid["session_id"])
        return Operation(
            "RemoteStopTransaction",
            {"chargeBoxIdList": [session.charge_box.charge_box_id], "transactionId": session.pk},
        )
    if command == CommandType.RESERVE_NOW:
        tag = _tag_of(party, data["token"])
        box, connector = _evse(party, valid["location_id"], valid.get("evse_uid"), None, whole_location=True)
        params = {
            "chargeBoxIdList": [box.charge_box_id],
            "connectorId": connector.connector_id if connector else 0,
            "expiry": data["expiry_date"],
            "idTag": tag.id_tag,
        }
        return Operation("ReserveNow", params)
    if command == CommandType.CANCEL_RESERVATION:
        made = (
            ReceivedCommand.objects.filter(
                partner=party,
                command=CommandType.RESERVE_NOW,
                **ci_lookup(data__reservation_id=valid["reservation_id"]),  # a CiString inside the JSON
            )
            .exclude(reservation=None)
            .select_related("reservation__charge_box")
            .first()
        )
        if made is None:
            return None  # known only once the RESERVE_NOW ran: the worker answers UNKNOWN_RESERVATION
        reservation = made.reservation
        return Operation(
            "CancelReservation",
            {"chargeBoxIdList": [reservation.charge_box.charge_box_id], "reservationId": reservation.pk},
        )
    box, connector = _evse(party, valid["location_id"], valid["evse_uid"], valid["connector_id"])
    # Unlocking ends the session on the connector: only the eMSP's own customer's, or none (a cable left stuck).
    others = Transaction.objects.filter(charge_box=box, connector_id=connector.connector_id, stopped_at=None).exclude(
        ocpp_tag__partner_token__partner=party
    )
    if others.exists():
        raise CommandRefused(CommandResponseType.REJECTED, "Another driver's session is running at this connector.")
    return Operation("UnlockConnector", {"chargeBoxIdList": [box.charge_box_id], "connectorId": connector.connector_id})


def _tag_of(party: Party, token: dict):
    """The OCPP tag of the eMSP's token; the token in the command is stored like a pushed one (its owner checked)."""
    partner_token_put(
        party=party,
        country_code=token["country_code"],
        party_id=token["party_id"],
        token_uid=token["uid"],
        token_type=token["type"],
        data=token,
    )
    stored = party.tokens.select_related("ocpp_tag").get(
        type=token["type"],
        country_code=token["country_code"],
        party_id=token["party_id"],
        uid=token["uid"],
    )
    if stored.ocpp_tag is None:
        raise CommandRefused(CommandResponseType.REJECTED, stored.problem or "The token cannot be used here.")
    return stored.ocpp_tag


def _evse(party, location_id, evse_uid, connector_id, *, whole_location: bool = False):
    """The charge box and connector of an EVSE of our location (an EVSE is one connector row: its uid is the
    row's id, its only connector "1"). Without an EVSE: the location's only one, or for a reservation any connector
    of its only charge box (connector None)."""
    location = locations_of(party.account_id).select_related("node").filter(ocpi_id=location_id).first()
    if location is None:
        raise CommandRefused(CommandResponseType.REJECTED, f"Unknown location {location_id!r}.")
    node = location.node
    connectors = Connector.objects.filter(
        connector_id__gt=0,
        charge_box__node__tree_id=node.tree_id,
        charge_box__node__lft__gte=node.lft,
        charge_box__node__rght__lte=node.rght,
    ).select_related("charge_box")
    if evse_uid is None:
        boxes = ChargeBox.objects.filter(pk__in=connectors.values("charge_box_id"))
        if whole_location and boxes.count() == 1:
            return boxes.get(), None
        if connectors.count() != 1:
            raise CommandRefused(CommandResponseType.REJECTED, "The location has several EVSEs: name one (evse_uid).")
        connector = connectors.get()
    else:
        connector = connectors.filter(pk=int(evse_uid)).first() if _is_number(evse_uid) else None
        if connector is None:
            raise CommandRefused(CommandResponseType.REJECTED, f"Unknown EVSE {evse_uid!r} at {location_id!r}.")
    if connector_id not in (None, "1"):
        raise CommandRefused(CommandResponseType.REJECTED, f"Unknown connector {connector_id!r}: each EVSE has 1.")
    return connector.charge_box, connector


def _running_session(party: Party, session_id: str) -> Transaction:
    session = partner_running_session(party, session_id)
    if session is None:
        raise CommandRefused(CommandResponseType.UNKNOWN_SESSION, f"No running session {session_id!r} of yours.")
    return session


def response_url_check(party: Party, url: str) -> None:
    """A result goes only to the partner's own hosts (we call it with our token)."""
    if not party.serves(url):
        raise OcpiError(
            "response_url: not on a host of your versions URL or endpoints.",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )


def _is_number(value: str) -> bool:
    return value.isascii() and value.isdigit()  # "²".isdigit() holds too, and int() refuses it


def _response(result: str, message: str = "") -> dict:
    body = {"result": result, "timeout": RESULT_WITHIN_SECONDS}
    if message:
        body["message"] = [{"language": "en", "text": message[:512]}]
    return body


def _run_soon(received_pk: int) -> None:
    from ..tasks import command_run_task

    command_run_task.delay(received_pk)


# We are the eMSP: commands to partner CPOs.


def command_send(*, party: Party, command: str, body: dict, base_url: str) -> SentCommand:
    """Send a command to the partner CPO; the response_url we give names the SentCommand that waits for its result.
    Raises OcpiClientError when the CPO cannot be reached or refuses the request."""
    url = party.endpoint_url("commands", "RECEIVER")
    if url is None:
        raise OcpiError(f"{party} lists no commands Receiver endpoint.")
    if party.version == ocpi211.VERSION and isinstance(body.get("token"), dict):
        body = {**body, "token": ocpi211.token_as_211(body["token"])}
    sent = SentCommand.objects.create(partner=party, command=command, data={})
    sent.data = {
        **body,
        "response_url": f"{base_url}/ocpi/emsp/{SUPPORTED_VERSION}/commands/{command}/{sent.pk}",
    }
    sent.save(update_fields=["data"])
    sent.response = ocpi_request(
        "POST",
        f"{url.rstrip('/')}/{command}",
        token=party.outgoing_token,
        plain_token=party.plain_token_header,
        body=sent.data,
        routing=routing_headers(party, to_role=OcpiRole.CPO),
    )
    sent.save(update_fields=["response"])
    return sent


def command_result_receive(*, party: Party, command: str, sent_pk: int, data) -> None:
    """The CommandResult a partner CPO posts to our response_url."""
    sent = SentCommand.objects.filter(partner=party, command=command, pk=sent_pk).first()
    if sent is None:
        raise OcpiError(f"No {command} {sent_pk} was sent to you.", http_status=404)
    # 2.1.1 posts a CommandResponse to the response_url.
    serializer = (CommandResponse211Serializer if party.version == ocpi211.VERSION else CommandResultSerializer)(
        data=data
    )
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid CommandResult: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    sent.result, sent.result_at = data, timezone.now()
    sent.save(update_fields=["result", "result_at"])
