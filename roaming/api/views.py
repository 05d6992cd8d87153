"""OCPI endpoints: thin views over roaming.services; every answer, errors included, is an OCPI envelope."""

import logging
import uuid

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.urls import Resolver404, resolve
from django.utils.decorators import method_decorator
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from powerfill.api.parsers import ApiJSONParser

from .. import ocpi211
from ..locations import location_objects, locations_of
from ..models import Cdr
from ..objects import LocationReferencesSerializer, first_error
from ..protocol import (
    SUPPORTED_VERSION,
    OcpiError,
    OcpiStatus,
    ci_equal,
    envelope,
    public_base_url,
    unknown_location,
)
from ..selectors import our_party_of, primary_identity
from ..services.charging_profiles import (
    active_charging_profile_get,
    active_charging_profile_receive,
    charging_profile_clear,
    charging_profile_result_receive,
    charging_profile_set,
)
from ..services.commands import command_receive, command_result_receive
from ..services.credentials import (
    credentials_register,
    credentials_unregister,
    credentials_update,
    our_credentials_in,
    our_endpoints,
    our_versions,
)
from ..services.partner_locations import (
    partner_connector_put,
    partner_evse_put,
    partner_location_object,
    partner_location_patch,
    partner_location_put,
)
from ..services.partner_objects import (
    partner_cdr_post,
    partner_client_info,
    partner_client_info_put,
    partner_object,
    partner_object_put,
    partner_session_patch,
    partner_tariff_delete,
)
from ..services.partner_tokens import partner_token_object, partner_token_patch, partner_token_put
from ..services.sessions import cdrs_issue_pending
from ..sessions import roaming_transactions, session_facts, session_object
from ..tariffs import tariff_objects, tariffs_of
from ..tokens import token_authorization, token_objects, tokens_of
from .authentication import HoldsAnyToken, IsPartnerCpo, IsPartnerEmsp, IsRegisteredParty, OcpiTokenAuthentication
from .pagination import paginated_response

logger = logging.getLogger(__name__)


def ocpi_exception_handler(exc, context):
    """Errors in OCPI's shape: the envelope with a status code, and the HTTP status the spec asks for."""
    if isinstance(exc, OcpiError):
        code, message, http_status = exc.status_code, exc.message, exc.http_status
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        # A missing, unknown or not yet registered token: 401, as OCPI asks.
        code, message, http_status = OcpiStatus.CLIENT_ERROR, str(exc.detail), status.HTTP_401_UNAUTHORIZED
    elif isinstance(exc, exceptions.ParseError):
        code, message, http_status = OcpiStatus.CLIENT_ERROR, f"Invalid JSON: {exc.detail}", 400
    elif isinstance(exc, exceptions.APIException):
        code, message, http_status = OcpiStatus.CLIENT_ERROR, str(exc.detail), exc.status_code
    elif isinstance(exc, Http404):
        code, message, http_status = OcpiStatus.CLIENT_ERROR, "Not found.", status.HTTP_404_NOT_FOUND
    elif isinstance(exc, PermissionDenied):  # Django's own 403, here in the envelope (django.request logs the 403)
        code, message, http_status = OcpiStatus.CLIENT_ERROR, "Forbidden.", status.HTTP_403_FORBIDDEN
    elif isinstance(exc, SuspiciousOperation):  # Django's 400 (a malformed request), here in the envelope
        http_status = 413 if isinstance(exc, RequestDataTooBig) else status.HTTP_400_BAD_REQUEST
        message = "The request body is too large." if http_status == 413 else "Bad request."
        code = OcpiStatus.CLIENT_ERROR
        _log_suspicious(exc, context.get("request"), http_status)
    else:  # a bug: logged with its traceback, and the partner still gets an envelope it can parse
        logger.exception("OCPI request %s failed", context["request"].path if context.get("request") else "?")
        code, message, http_status = OcpiStatus.SERVER_ERROR, "Internal server error.", 500
    if not getattr(getattr(context.get("view"), "dispatch", None), "_non_atomic_requests", None):
        set_rollback()  # nothing the request wrote stays (ATOMIC_REQUESTS); views outside it write atomically
    response = Response(envelope(status_code=code, status_message=message), status=http_status)
    if http_status == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = "Token"
    return response


def _log_suspicious(exc: SuspiciousOperation, request, http_status: int) -> None:
    """What Django's own handler does with a SuspiciousOperation, which this handler now answers instead: log it to
    django.security.<its class>, where operators' alerting (and LOGGING's security handlers) look for it."""
    logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
        str(exc), exc_info=exc, extra={"status_code": http_status, "request": getattr(request, "_request", request)}
    )


class OcpiJsonOnly(BaseContentNegotiation):
    """OCPI speaks JSON whatever the client's Accept header says (a browser's text/html too): the envelope, never a
    406."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OcpiView(APIView):
    schema = None  # OCPI is specified by the OCPI spec, not our REST API's OpenAPI document
    authentication_classes = [OcpiTokenAuthentication]
    permission_classes = [HoldsAnyToken]
    parser_classes = [ApiJSONParser]  # DRF's, with a body nested too deeply a 400 rather than a crash
    renderer_classes = [JSONRenderer]
    content_negotiation_class = OcpiJsonOnly
    throttle_classes = []

    def get_exception_handler(self):
        return ocpi_exception_handler

    def base_url(self) -> str:
        return public_base_url(self.request)

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer carries the caller's X-Request-ID and X-Correlation-ID (new ones if it sent none), and the
        routing headers of the request the other way round (transport_and_format, "Request/response headers")."""
        response = super().finalize_response(request, response, *args, **kwargs)
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        response["X-Request-ID"] = request_id
        response["X-Correlation-ID"] = request.headers.get("X-Correlation-ID") or request_id
        for ours, theirs in (("from", "to"), ("to", "from")):
            for part in ("country-code", "party-id"):
                value = request.headers.get(f"OCPI-{theirs}-{part}")
                if value:
                    response[f"OCPI-{ours}-{part}"] = value
        return response


class UnknownEndpointView(OcpiView):
    """Any path under /ocpi/ that is none of our endpoints: 404 with the generic client error 2000 in the envelope
    (status_codes: a resource that does not exist is a 404), whoever asks and however, so a partner's client reads
    an OCPI answer rather than an HTML page. A trailing-slash variant of one of ours is named in the message."""

    authentication_classes = []
    permission_classes = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        message = f"No OCPI endpoint at {request.path}."
        stripped = request.path.rstrip("/")
        if stripped != request.path:
            try:
                known = resolve(stripped).url_name != "unknown-endpoint"
            except Resolver404:
                known = False
            if known:
                message += f" Did you mean {stripped} (without the trailing slash)?"
        raise OcpiError(message, http_status=status.HTTP_404_NOT_FOUND)


class VersionsView(OcpiView):
    def get(self, request):
        return Response(envelope(our_versions(self.base_url())))


class VersionDetailsView(OcpiView):
    version = SUPPORTED_VERSION

    def get(self, request):
        if self.version == ocpi211.VERSION:
            endpoints = ocpi211.our_endpoints(self.base_url(), request.auth.ocpi211_role)
        else:
            endpoints = our_endpoints(self.base_url())
        return Response(envelope({"version": self.version, "endpoints": endpoints}))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class CredentialsView(OcpiView):
    """The handshake calls the partner back (its versions and endpoints) while answering: never inside a transaction
    (roaming.services.credentials writes in short ones of its own)."""

    version = SUPPORTED_VERSION

    def get(self, request):
        return Response(envelope(our_credentials_in(self.version, party=request.auth, base_url=self.base_url())))

    def post(self, request):
        data = credentials_register(
            party=request.auth, credentials=request.data, base_url=self.base_url(), version=self.version
        )
        return Response(envelope(data))

    def put(self, request):
        data = credentials_update(
            party=request.auth, credentials=request.data, base_url=self.base_url(), version=self.version
        )
        return Response(envelope(data))

    def delete(self, request):
        credentials_unregister(party=request.auth)
        return Response(envelope())


class CpoLocationsView(OcpiView):
    """Locations, Sender interface (we are the CPO): the list, a location, an EVSE or a connector."""

    permission_classes = [IsRegisteredParty]

    def get(self, request, location_id=None, evse_uid_=None, connector_id=None):
        locations = locations_of(request.auth.account_id)
        if location_id is None:
            return paginated_response(request, locations, serialize=location_objects)
        location = locations.filter(ocpi_id=location_id).first()
        if location is None:
            raise unknown_location("location", location_id)
        (body,) = location_objects([location])
        if evse_uid_ is None:
            return Response(envelope(body))
        evse = next((e for e in body.get("evses", []) if ci_equal(e["uid"], evse_uid_)), None)
        if evse is None:
            raise unknown_location("EVSE", evse_uid_)
        if connector_id is None:
            return Response(envelope(evse))
        connector = next((c for c in evse["connectors"] if ci_equal(c["id"], connector_id)), None)
        if connector is None:
            raise unknown_location("connector", connector_id)
        return Response(envelope(connector))


class EmspLocationsView(OcpiView):
    """Locations, Receiver interface (we are the eMSP): a partner CPO pushes its locations, EVSEs and connectors.
    The URL gives country_code, party_id, location_id and optionally evse_uid and connector_id."""

    permission_classes = [IsRegisteredParty]

    def get(self, request, **ids):
        return Response(envelope(partner_location_object(party=request.auth, **ids)))

    def put(self, request, **ids):
        data = self.received(request.data, ids)
        if "connector_id" in ids:
            partner_connector_put(party=request.auth, **ids, data=data)
        elif "evse_uid" in ids:
            partner_evse_put(party=request.auth, **ids, data=data)
        else:
            partner_location_put(party=request.auth, **ids, data=data)
        return Response(envelope())

    def patch(self, request, **ids):
        partner_location_patch(party=request.auth, **ids, data=self.received_patch(request.data))
        return Response(envelope())

    def received(self, data, ids: dict):
        """The object as the services take it (2.2.1); other versions convert."""
        return data

    def received_patch(self, data):
        return data


class CpoTokensView(OcpiView):
    """Tokens, Receiver interface (we are the CPO): a partner eMSP pushes its tokens. The URL gives country_code,
    party_id and uid; ?type= the token type (RFID when absent, as the spec says)."""

    permission_classes = [IsRegisteredParty]

    def get(self, request, **ids):
        return Response(envelope(partner_token_object(party=request.auth, **ids, token_type=self._type())))

    def put(self, request, **ids):
        partner_token_put(party=request.auth, **ids, token_type=self._type(), data=self.received(request.data, ids))
        return Response(envelope())

    def patch(self, request, **ids):
        data = self.received_patch(request.data)
        partner_token_patch(party=request.auth, **ids, token_type=self._type(), data=data)
        return Response(envelope())

    def received(self, data, ids: dict):
        """The token as the services take it (2.2.1); other versions convert."""
        return data

    def received_patch(self, data):
        return data

    def _type(self) -> str | None:
        return self.request.query_params.get("type")


class EmspTokensView(OcpiView):
    """Tokens, Sender interface (we are the eMSP): partner CPOs fetch our tokens, paginated."""

    permission_classes = [IsPartnerCpo]

    def get(self, request):
        identity = _identity_of(request.auth)
        return paginated_response(
            request, tokens_of(request.auth.account_id), serialize=lambda tags: token_objects(tags, identity)
        )


class EmspTokenAuthorizeView(OcpiView):
    """Real-time authorization (we are the eMSP): a partner CPO asks whether one of our tokens may charge now,
    optionally at a location (LocationReferences in the body)."""

    permission_classes = [IsPartnerCpo]

    def post(self, request, token_uid):
        location = None
        if request.data:
            references = LocationReferencesSerializer(data=request.data)
            if not references.is_valid():
                raise OcpiError(
                    f"Invalid LocationReferences: {first_error(references.errors)}",
                    status_code=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
                )
            location = request.data
        info = token_authorization(
            account_id=request.auth.account_id,
            identity=_identity_of(request.auth),
            uid=token_uid,
            token_type=request.query_params.get("type", "RFID"),
            location=location,
        )
        return Response(envelope(info))


def _identity_of(party):
    identity = primary_identity(party.account_id)
    if identity is None:
        raise OcpiError("No OCPI identity for this account.", status_code=OcpiStatus.SERVER_ERROR, http_status=500)
    return identity


class CpoSessionsView(OcpiView):
    """Sessions, Sender interface (we are the CPO): a partner eMSP reads its own customers' sessions, paginated."""

    permission_classes = [IsRegisteredParty]

    def get(self, request):
        sessions = roaming_transactions(request.auth.account_id).filter(ocpp_tag__partner_token__partner=request.auth)
        return paginated_response(request, sessions, serialize=_session_objects)


def _session_objects(transactions) -> list[dict]:
    return [session_object(facts) for facts in map(session_facts, transactions) if facts is not None]


class CpoCdrsView(OcpiView):
    """CDRs, Sender interface (we are the CPO): a partner eMSP reads the CDRs of its customers' sessions."""

    permission_classes = [IsRegisteredParty]

    def get(self, request):
        cdrs_issue_pending(partner=request.auth)  # sessions that ended since the last drain
        cdrs = Cdr.objects.filter(partner=request.auth).annotate(last_updated=F("created_at"))
        return paginated_response(request, cdrs, serialize=lambda page: [cdr.data for cdr in page])


class CpoTariffsView(OcpiView):
    """Tariffs, Sender interface (we are the CPO)."""

    permission_classes = [IsRegisteredParty]

    def get(self, request):
        return paginated_response(request, tariffs_of(request.auth.account_id), serialize=tariff_objects)


class EmspOwnedObjectView(OcpiView):
    """A Receiver interface (we are the eMSP) for objects a partner CPO owns, by country code, party id and id."""

    permission_classes = [IsRegisteredParty]
    module = ""

    def get(self, request, country_code, party_id, object_id):
        ids = {"country_code": country_code, "party_id": party_id, "object_id": object_id}
        return Response(envelope(partner_object(party=request.auth, module=self.module, **ids)))

    def put(self, request, country_code, party_id, object_id):
        ids = {"country_code": country_code, "party_id": party_id, "object_id": object_id}
        data = self.received(request.data, country_code=country_code, party_id=party_id)
        partner_object_put(party=request.auth, module=self.module, **ids, data=data)
        return Response(envelope())

    def received(self, data, *, country_code: str, party_id: str):
        """The object as the services take it (2.2.1); other versions convert."""
        return data


class EmspSessionsView(EmspOwnedObjectView):
    """Sessions, Receiver interface: a partner CPO pushes our customers' sessions."""

    module = "sessions"

    def patch(self, request, country_code, party_id, object_id):
        data = self.received_patch(request.data)
        partner_session_patch(
            party=request.auth, country_code=country_code, party_id=party_id, session_id=object_id, data=data
        )
        return Response(envelope())

    def received_patch(self, data):
        return data


class EmspCdrsView(OcpiView):
    """CDRs, Receiver interface (we are the eMSP): a partner CPO posts the CDR of a session; the Location header
    says where it can read it back."""

    permission_classes = [IsRegisteredParty]

    version = SUPPORTED_VERSION

    def post(self, request):
        stored, _ = partner_cdr_post(party=request.auth, data=self.received(request.data))
        response = Response(envelope(), status=status.HTTP_201_CREATED)
        response["Location"] = f"{self.base_url()}/ocpi/emsp/{self.version}/cdrs/{stored.pk}"
        return response

    def received(self, data):
        return data


class EmspCdrView(OcpiView):
    permission_classes = [IsRegisteredParty]

    def get(self, request, cdr_pk):
        stored = request.auth.held_objects.filter(module="cdrs", pk=cdr_pk).first()
        if stored is None:
            raise OcpiError(f"Unknown CDR {cdr_pk}.", http_status=404)
        return Response(envelope(stored.data))


class EmspTariffsView(EmspOwnedObjectView):
    """Tariffs, Receiver interface: a partner CPO pushes its tariffs, or removes one."""

    module = "tariffs"

    def delete(self, request, country_code, party_id, object_id):
        partner_tariff_delete(party=request.auth, country_code=country_code, party_id=party_id, tariff_id=object_id)
        return Response(envelope())


class CpoCommandsView(OcpiView):
    """Commands, Receiver interface (we are the CPO): a partner eMSP sends START_SESSION, STOP_SESSION,
    RESERVE_NOW, CANCEL_RESERVATION or UNLOCK_CONNECTOR; the answer is the CommandResponse, the result follows at
    its response_url."""

    permission_classes = [IsPartnerEmsp]

    def post(self, request, command):
        return Response(envelope(command_receive(party=request.auth, command=command, data=request.data)))


class Cpo211CommandsView(CpoCommandsView):
    """Commands from a 2.1.1 eMSP: its token gains its country and party; our answer has no timeout."""

    def post(self, request, command):
        emsp = _partner_party(request.auth)
        data = ocpi211.command_as_221(command, request.data, emsp=emsp)
        answer = command_receive(party=request.auth, command=command, data=data)
        return Response(envelope(ocpi211.command_response_as_211(answer)))


class EmspCommandResultView(OcpiView):
    """Commands, Sender interface (we are the eMSP): the response_url of a command we sent; the CPO posts the
    CommandResult here."""

    permission_classes = [IsRegisteredParty]

    def post(self, request, command, sent_pk):
        command_result_receive(party=request.auth, command=command, sent_pk=sent_pk, data=request.data)
        return Response(envelope())


class EmspChargingProfileResultView(OcpiView):
    """Charging profiles, Sender interface (we are the eMSP): the response_url of a request we sent; the CPO posts
    the result here."""

    permission_classes = [IsRegisteredParty]

    def post(self, request, sent_pk):
        charging_profile_result_receive(party=request.auth, sent_pk=sent_pk, data=request.data)
        return Response(envelope())


class EmspActiveChargingProfileView(OcpiView):
    """Charging profiles, Sender interface (we are the eMSP): the CPO reports the profile now in force for one of our
    customers' sessions."""

    permission_classes = [IsRegisteredParty]

    def put(self, request, session_id):
        active_charging_profile_receive(party=request.auth, session_id=session_id, data=request.data)
        return Response(envelope())


class HubClientInfoView(OcpiView):
    """Hub client info, Receiver interface: the hub we are connected through tells us which parties are online.
    OCPI keys ClientInfo by country code and party id; a party with several roles gets one object per role, and a
    GET answers the first (the others are in the admin)."""

    permission_classes = [IsRegisteredParty]

    def get(self, request, country_code, party_id):
        return Response(
            envelope(partner_client_info(party=request.auth, country_code=country_code, party_id=party_id)[0])
        )

    def put(self, request, country_code, party_id):
        partner_client_info_put(party=request.auth, country_code=country_code, party_id=party_id, data=request.data)
        return Response(envelope())


class CpoChargingProfilesView(OcpiView):
    """Charging profiles, Receiver interface (we are the CPO): a partner caps one of its customers' sessions (PUT),
    lifts the cap (DELETE) or asks what the session has now (GET); results follow at the response_url."""

    permission_classes = [IsPartnerEmsp]

    def get(self, request, session_id):
        params = request.query_params
        answer = active_charging_profile_get(
            party=request.auth,
            session_id=session_id,
            duration=params.get("duration"),
            response_url=params.get("response_url"),
        )
        return Response(envelope(answer))

    def put(self, request, session_id):
        return Response(envelope(charging_profile_set(party=request.auth, session_id=session_id, data=request.data)))

    def delete(self, request, session_id):
        answer = charging_profile_clear(
            party=request.auth, session_id=session_id, response_url=request.query_params.get("response_url")
        )
        return Response(envelope(answer))


# OCPI 2.1.1 (roaming.ocpi211): the same services, objects converted at the edge.


class Cpo211LocationsView(CpoLocationsView):
    """Locations, Sender interface, in 2.1.1's shape."""

    def get(self, request, location_id=None, evse_uid_=None, connector_id=None):
        if location_id is None:
            locations = locations_of(request.auth.account_id)
            return paginated_response(
                request, locations, serialize=lambda page: list(map(ocpi211.location_as_211, location_objects(page)))
            )
        response = super().get(request, location_id, evse_uid_, connector_id)
        data = response.data["data"]
        if connector_id is not None:
            response.data["data"] = ocpi211.connector_as_211(data)
        elif evse_uid_ is not None:
            response.data["data"] = ocpi211.evse_as_211(data)
        else:
            response.data["data"] = ocpi211.location_as_211(data)
        return response


class Emsp211LocationsView(EmspLocationsView):
    """Locations, Receiver interface, for a 2.1.1 CPO: its objects become 2.2.1's before the same upsert."""

    def received(self, data, ids: dict):
        if "connector_id" in ids:
            return ocpi211.connector_as_221(data)
        if "evse_uid" in ids:
            return ocpi211.evse_as_221(data)
        return ocpi211.location_as_221(data, country_code=ids["country_code"], party_id=ids["party_id"])

    def received_patch(self, data):
        return ocpi211.location_patch_as_221(data)

    def get(self, request, **ids):
        response = super().get(request, **ids)
        data = response.data["data"]
        if "connector_id" in ids:
            response.data["data"] = ocpi211.connector_as_211(data)
        elif "evse_uid" in ids:
            response.data["data"] = ocpi211.evse_as_211(data)
        else:
            response.data["data"] = ocpi211.location_as_211(data)
        return response


class Emsp211TokensView(OcpiView):
    """Tokens, Sender interface, in 2.1.1's shape."""

    permission_classes = [IsPartnerCpo]

    def get(self, request):
        identity = _identity_of(request.auth)
        return paginated_response(
            request,
            tokens_of(request.auth.account_id),
            serialize=lambda tags: [ocpi211.token_as_211(t) for t in token_objects(tags, identity)],
        )


class Emsp211TokenAuthorizeView(EmspTokenAuthorizeView):
    def post(self, request, token_uid):
        response = super().post(request, token_uid)
        response.data["data"] = ocpi211.authorization_as_211(response.data["data"])
        return response


class Cpo211TokensView(CpoTokensView):
    """Tokens, Receiver interface, for a 2.1.1 eMSP."""

    def get(self, request, **ids):
        response = super().get(request, **ids)
        response.data["data"] = ocpi211.token_as_211(response.data["data"])
        return response

    def received(self, data, ids: dict):
        return ocpi211.token_as_221(data, country_code=ids["country_code"], party_id=ids["party_id"])

    def received_patch(self, data):
        return ocpi211.token_patch_as_221(data)


class Cpo211SessionsView(CpoSessionsView):
    def get(self, request):
        sessions = roaming_transactions(request.auth.account_id).filter(ocpp_tag__partner_token__partner=request.auth)
        return paginated_response(request, sessions, serialize=_session_objects_211)


def _session_objects_211(transactions) -> list[dict]:
    facts = [f for f in map(session_facts, transactions) if f is not None]
    return [ocpi211.session_as_211(session_object(f), location=f.location_object) for f in facts]


class Cpo211CdrsView(CpoCdrsView):
    def get(self, request):
        cdrs = (
            Cdr.objects.filter(partner=request.auth)
            .select_related("transaction")
            .annotate(last_updated=F("created_at"))
        )
        return paginated_response(request, cdrs, serialize=_cdr_objects_211)


def _cdr_objects_211(cdrs) -> list[dict]:
    """2.1.1 puts the whole location in a CDR: it is the location the session ran at, as it is now."""
    objects = []
    for cdr in cdrs:
        facts = session_facts(cdr.transaction)
        if facts is not None:
            objects.append(ocpi211.cdr_as_211(cdr.data, location=facts.location_object))
    return objects


class Cpo211TariffsView(CpoTariffsView):
    def get(self, request):
        return paginated_response(
            request,
            tariffs_of(request.auth.account_id),
            serialize=lambda page: [ocpi211.tariff_as_211(body) for body in tariff_objects(page)],
        )


class Emsp211SessionsView(EmspSessionsView):
    def received(self, data, *, country_code: str, party_id: str):
        return ocpi211.session_as_221(
            data, country_code=country_code, party_id=party_id, emsp=our_party_of(self.request.auth)
        )

    def received_patch(self, data):
        return ocpi211.session_patch_as_221(data)


class Emsp211CdrsView(EmspCdrsView):
    version = ocpi211.VERSION

    def received(self, data):
        country_code, party_id = _partner_party(self.request.auth)
        return ocpi211.cdr_as_221(
            data, country_code=country_code, party_id=party_id, emsp=our_party_of(self.request.auth)
        )


class Emsp211TariffsView(EmspTariffsView):
    def received(self, data, *, country_code: str, party_id: str):
        return ocpi211.tariff_as_221(data, country_code=country_code, party_id=party_id)


def _partner_party(party) -> tuple[str, str]:
    """A 2.1.1 partner's one party (its country code and party id)."""
    role = party.roles.first()
    if role is None:
        raise OcpiError("The partner lists no party.", http_status=403)
    return role.country_code, role.party_id
