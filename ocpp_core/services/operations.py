"""Sending CSMS-initiated operations to chargers, wherever their sockets are.

A call goes to the charger's channel-layer group (one member: the consumer holding its socket, in whichever server
process), which sends the CALL and reports the answer on a reply channel made for this call. Chargers are called
in parallel; each outcome lands in SteVe's three lists: successResponses (a CALLRESULT), errorResponses (a
CALLERROR) and exceptions (not sent: offline, refused before sending, or no answer in time).

No database transaction is held while waiting for chargers: preparing, waiting and recording are separate steps.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from ocpp.v16.enums import RegistrationStatus

from powerfill.accounts.models import Account

from ..channel_groups import charge_box_group
from ..models import ChargeBox, OperationTask
from ..operations import OPERATIONS, OperationRefused
from ..secret_masking import masked_frame, masked_values

# A call waits at most SEND_WITHIN_SECONDS for the charger's earlier calls, then the charger has OCPP_CALL_TIMEOUT
# to answer; we wait REPLY_MARGIN_SECONDS longer than both for the consumer's report.
SEND_WITHIN_SECONDS = 3.0
# OCPP 1.6, 4.2.1: a Pending charger takes configuration and triggers, but no transactions from the central system.
NOT_WHILE_PENDING = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})
REPLY_MARGIN_SECONDS = 5.0


@dataclass
class Outcomes:
    success: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)


def operation_run(*, account: Account, action: str, params: dict, requested_by: str = "") -> OperationTask:
    """Send `action` with SteVe's `params` (validated) to every charger of params["chargeBoxIdList"]."""
    operation = OPERATIONS[action]
    charge_box_ids = params["chargeBoxIdList"]
    charge_boxes = {
        box.charge_box_id: box for box in ChargeBox.objects.filter(account=account, charge_box_id__in=charge_box_ids)
    }
    unknown = [i for i in charge_box_ids if i not in charge_boxes]
    if unknown:
        raise ValidationError({"charge_box_id_list": f"Unknown charge box: {', '.join(unknown)}."})

    task = OperationTask.objects.create(
        account=account,
        action=action,
        params=_jsonable(masked_values(params, operation.secrets(params))),
        requested_by=requested_by[:150],
        charge_box_ids=charge_box_ids,
    )
    outcomes = Outcomes()
    calls = []
    for charge_box_id in dict.fromkeys(charge_box_ids):
        charge_box = charge_boxes[charge_box_id]
        if not charge_box.is_connected:
            outcomes.exceptions.append(_exception(charge_box_id, "The charge box is not connected."))
            continue
        if charge_box.registration_status == RegistrationStatus.rejected:
            outcomes.exceptions.append(_exception(charge_box_id, "The charge box's registration is Rejected."))
            continue
        if charge_box.registration_status == RegistrationStatus.pending and action in NOT_WHILE_PENDING:
            outcomes.exceptions.append(
                _exception(charge_box_id, f"The charge box's registration is Pending: no {action} until Accepted.")
            )
            continue
        try:
            payload = operation.payload(params=params, charge_box=charge_box, task=task)
        except OperationRefused as refusal:
            outcomes.exceptions.append(_exception(charge_box_id, str(refusal)))
            continue
        calls.append((charge_box, payload))

    secrets = operation.secrets(params)
    replies = (
        async_to_sync(chargers_call)(action, [(box.pk, payload) for box, payload in calls], secrets=secrets)
        if calls
        else []
    )
    if secrets:  # a charger's answer may echo what it was sent (a CALLERROR's details): the records keep a mask
        replies = [json.loads(masked_frame(json.dumps(reply), secrets)) for reply in replies]
    for (charge_box, payload), reply in zip(calls, replies, strict=True):
        charge_box_id = charge_box.charge_box_id
        if reply["outcome"] == "result":
            outcomes.success.append({"chargeBoxId": charge_box_id, "response": operation.response(reply["payload"])})
            operation.accepted(params=params, charge_box=charge_box, payload=payload, result=reply["payload"])
            continue
        operation.not_answered(params=params, charge_box=charge_box, payload=payload)
        if reply["outcome"] == "call_error":
            outcomes.errors.append(
                {
                    "chargeBoxId": charge_box_id,
                    "errorCode": reply["code"],
                    "errorDescription": reply["description"],
                    "errorDetails": reply["details"],
                }
            )
        else:
            outcomes.exceptions.append(_exception(charge_box_id, reply["message"]))

    task.success_responses = outcomes.success
    task.error_responses = outcomes.errors
    task.exceptions = outcomes.exceptions
    # SteVe: finished unless a charger was still to answer when the time was up.
    task.finished = not any(reply["outcome"] == "timeout" for reply in replies)
    task.finished_at = timezone.now()
    task.save(update_fields=["success_responses", "error_responses", "exceptions", "finished", "finished_at"])
    return task


def operation_response(task: OperationTask) -> dict:
    """SteVe's OcppOperationResponse."""
    return {
        "taskId": task.pk,
        "taskFinished": task.finished,
        "successResponses": task.success_responses,
        "errorResponses": task.error_responses,
        "exceptions": task.exceptions,
    }


async def chargers_call(action: str, calls: list[tuple[int, dict]], *, secrets: tuple[str, ...] = ()) -> list[dict]:
    """Send each (charge box pk, payload) CALL through the channel layer, in parallel; one reply each, in order:
    {"outcome": "result", "payload"} | {"outcome": "call_error", "code", "description", "details"} |
    {"outcome": "timeout" | "failed", "message"}. `secrets`: values in the payloads that the message log masks."""
    layer = get_channel_layer()
    wait = SEND_WITHIN_SECONDS + settings.OCPP_CALL_TIMEOUT + REPLY_MARGIN_SECONDS

    async def call(charge_box_pk: int, payload: dict) -> dict:
        # The default prefix matters: channels_redis reads each process's channels of one prefix in one loop, and a
        # reply channel of its own prefix would hold that loop and starve every consumer of the process meanwhile.
        reply_to = await layer.new_channel()
        request_id = uuid.uuid4().hex
        await layer.group_send(
            charge_box_group(charge_box_pk),
            {
                "type": "ocpp.call",
                "action": action,
                "payload": payload,
                "reply_to": reply_to,
                "request_id": request_id,
                "secrets": list(secrets),
                # The consumer sends a charger one call at a time. One still waiting for its turn at send_by is
                # not sent at all: after that, its answer could not come back before we stop waiting.
                "send_by": time.time() + SEND_WITHIN_SECONDS,
            },
        )
        try:
            async with asyncio.timeout(wait):
                while True:
                    reply = await layer.receive(reply_to)
                    if reply.get("request_id") == request_id:
                        return reply
        except TimeoutError:
            return {"outcome": "timeout", "message": f"No answer within {wait:g} s: the charger's socket is gone."}

    return await asyncio.gather(*(call(pk, payload) for pk, payload in calls))


def _exception(charge_box_id: str, message: str) -> dict:
    return {"chargeBoxId": charge_box_id, "exceptionMessage": message}


def _jsonable(params: dict) -> dict:
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in params.items()}
