"""Charging profiles (chargingprofiles module). As CPO: an eMSP or smart charging provider caps one of its
customers' running sessions. The profile does not go to the charger as it is: it becomes the session's limit in
load management (priority: ConnectorLoad.session_limit), which shares the site's power under every fuse and grid
limit and never gives the session more than the profile allows; the charger gets the resulting profile. The result
is posted to the caller's response_url through the outbox (retried, in order per session).

    PUT     the session's cap        -> ChargingProfileResult ACCEPTED
    DELETE  the cap removed          -> ClearProfileResult ACCEPTED
    GET     what the session has now -> ActiveChargingProfileResult (the limit last applied to its connector)

As eMSP we send these requests for our customers' sessions at partner CPOs and keep the results they post back."""

from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from ocpp_core.models import Connector
from priority.models import ConnectorLoad
from priority.services.load_management import rebalance_request

from ..choices import OcpiRole
from ..client import ocpi_request
from ..models import PartnerObject, Party, SentChargingProfile
from ..objects import (
    ActiveChargingProfileSerializer,
    ChargingProfileResultSerializer,
    ChargingProfileSerializer,
    SetChargingProfileSerializer,
    first_error,
    without_nulls,
)
from ..protocol import SUPPORTED_VERSION, OcpiError, OcpiStatus, timestamp
from ..selectors import routing_headers
from ..sessions import partner_running_session
from .commands import response_url_check
from .outbox import outbox_enqueue

RESULT_WITHIN_SECONDS = 30  # a recomputation of the site, queued after the answer


def charging_profile_set(*, party: Party, session_id: str, data) -> dict:
    serializer = SetChargingProfileSerializer(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid SetChargingProfile: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    profile = serializer.validated_data["charging_profile"]
    response_url_check(party, data["response_url"])
    with transaction.atomic():
        load = _session_load(party, session_id)
        if load is None:
            return _response("UNKNOWN_SESSION")
        periods = profile.get("charging_profile_period") or []
        load.session_limit = {
            "transaction_id": int(session_id),
            "start": (profile.get("start_date_time") or timezone.now()).isoformat(),
            "unit": profile["charging_rate_unit"],
            "periods": sorted(
                ({"start_period": p["start_period"], "limit": p["limit"]} for p in periods),
                key=lambda p: p["start_period"],
            ),
            "duration": profile.get("duration"),
        }
        load.save(update_fields=["session_limit"])
        _result(party, session_id, data["response_url"], {"result": "ACCEPTED"})
        _rebalance(load)
    return _response("ACCEPTED")


def charging_profile_clear(*, party: Party, session_id: str, response_url: str | None) -> dict:
    response_url = _required_url(party, response_url)
    with transaction.atomic():
        load = _session_load(party, session_id)
        if load is None:
            return _response("UNKNOWN_SESSION")
        load.session_limit = None
        load.save(update_fields=["session_limit"])
        _result(party, session_id, response_url, {"result": "ACCEPTED"})
        _rebalance(load)
    return _response("ACCEPTED")


def active_charging_profile_get(*, party: Party, session_id: str, duration, response_url: str | None) -> dict:
    """The session's limit as load management last applied it (or the charger's maximum, when it never did)."""
    response_url = _required_url(party, response_url)
    try:
        seconds = int(duration)
    except (TypeError, ValueError):
        raise OcpiError(
            "duration: a whole number of seconds.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        ) from None
    with transaction.atomic():
        load = _session_load(party, session_id)
        if load is None:
            return _response("UNKNOWN_SESSION")
        box = load.connector.charge_box
        amps = load.applied_amps if load.applied_amps is not None else box.max_current_a
        profile = {
            "start_date_time": timestamp(),
            "charging_profile": {
                "duration": seconds,
                "charging_rate_unit": "A",
                "charging_profile_period": [{"start_period": 0, "limit": round(amps, 1)}],
            },
        }
        _result(party, session_id, response_url, {"result": "ACCEPTED", "profile": profile})
    return _response("ACCEPTED")


def _session_load(party: Party, session_id: str) -> ConnectorLoad | None:
    session = partner_running_session(party, session_id)
    if session is None:
        return None
    connector = Connector.objects.select_related("charge_box").get(
        charge_box=session.charge_box, connector_id=session.connector_id
    )
    load, _ = ConnectorLoad.objects.select_for_update().get_or_create(connector=connector)
    load.connector = connector
    return load


def _result(party: Party, session_id: str, response_url: str, body: dict) -> None:
    outbox_enqueue(partner=party, key=f"chargingprofiles:{session_id}", method="POST", url=response_url, body=body)


def _rebalance(load: ConnectorLoad) -> None:
    box_pk = load.connector.charge_box_id
    transaction.on_commit(lambda: rebalance_request(charge_box_pks=[box_pk], reason="OCPI charging profile"))


def _required_url(party: Party, value: str | None) -> str:
    if not value or not value.startswith(("http://", "https://")):
        raise OcpiError("response_url: required, a URL.", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS)
    response_url_check(party, value)
    return value


def _response(result: str) -> dict:
    return {"result": result, "timeout": RESULT_WITHIN_SECONDS}


# We are the eMSP: profiles for our customers' sessions at partner CPOs.


def charging_profile_send(
    *, party: Party, session_id: str, action: str, base_url: str, profile: dict | None = None, duration: int = 0
) -> SentChargingProfile:
    """Ask the partner CPO to set (with `profile`), read (for `duration` seconds) or clear a session's profile; the
    result comes later to the response_url, which names the returned row. Raises OcpiClientError when the CPO
    cannot be reached or refuses the request."""
    url = party.endpoint_url("chargingprofiles", "RECEIVER")
    if url is None:
        raise OcpiError(f"{party} lists no chargingprofiles Receiver endpoint.")
    if action == SentChargingProfile.Action.SET:
        serializer = ChargingProfileSerializer(data=profile)
        if not serializer.is_valid():
            raise OcpiError(f"Invalid charging profile: {first_error(serializer.errors)}")
    sent = SentChargingProfile.objects.create(partner=party, session_id=session_id, action=action, data={})
    response_url = f"{base_url}/ocpi/emsp/{SUPPORTED_VERSION}/chargingprofiles/results/{sent.pk}"
    target = f"{url.rstrip('/')}/{session_id}"
    routing = routing_headers(party, to_role=OcpiRole.CPO)
    call = {"token": party.outgoing_token, "plain_token": party.plain_token_header, "routing": routing}
    if action == SentChargingProfile.Action.SET:
        sent.data = {"charging_profile": profile, "response_url": response_url}
        sent.response = ocpi_request("PUT", target, body=sent.data, **call)
    elif action == SentChargingProfile.Action.GET:
        sent.data = {"duration": duration, "response_url": response_url}
        sent.response = ocpi_request("GET", f"{target}?{urlencode(sent.data)}", **call)
    else:
        sent.data = {"response_url": response_url}
        sent.response = ocpi_request("DELETE", f"{target}?{urlencode(sent.data)}", **call)
    sent.save(update_fields=["data", "response"])
    return sent


def charging_profile_result_receive(*, party: Party, sent_pk: int, data) -> None:
    """A ChargingProfileResult, ActiveChargingProfileResult or ClearProfileResult posted to our response_url."""
    sent = SentChargingProfile.objects.filter(partner=party, pk=sent_pk).first()
    if sent is None:
        raise OcpiError(f"No charging profile request {sent_pk} was sent to you.", http_status=404)
    serializer = ChargingProfileResultSerializer(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid result: {first_error(serializer.errors)}", status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS
        )
    sent.result, sent.result_at = data, timezone.now()
    sent.save(update_fields=["result", "result_at"])


def active_charging_profile_receive(*, party: Party, session_id: str, data) -> None:
    """The CPO tells us the profile now in force for one of our customers' sessions (it changed on its side)."""
    serializer = ActiveChargingProfileSerializer(data=data)
    if not serializer.is_valid():
        raise OcpiError(
            f"Invalid ActiveChargingProfile: {first_error(serializer.errors)}",
            status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    role = party.roles.filter(role=OcpiRole.CPO).first()
    if role is None:
        raise OcpiError("Only a CPO reports a session's active charging profile.", http_status=403)
    PartnerObject.objects.update_or_create(  # the ids are CiCharFields: found in any case, created as sent
        partner=party,
        module="chargingprofiles",
        country_code=role.country_code,
        party_id=role.party_id,
        ocpi_id=session_id,
        defaults={"data": without_nulls(data), "last_updated": timezone.now()},
    )
