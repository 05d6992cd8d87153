from collections.abc import Mapping

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from powerfill.api.errors import service_errors
from powerfill.api.pagination import OptionalPageNumberPagination, optionally_paginated
from powerfill.api.permissions import request_account
from priority import selectors
from priority.choices import PriorityChangeSource
from priority.services.priorities import UNCHANGED, account_priorities_reset, connector_priority_set

from .serializers import ConnectorIdentifierSerializer, PriorityRecordSerializer, PrioritySetSerializer

IDENTIFIER_DESCRIPTION = (
    "Name the connector with exactly one identifier: `bySerialNumber` `{serialNumber, connectorId}` (the "
    "chargePointSerialNumber or chargeBoxSerialNumber of the station's last BootNotification; when several of the "
    "account's stations report it, 400 naming them: use `byChargeBoxId`), `byEvseId` `{evseId}`, or "
    "`byChargeBoxId` `{chargeBoxId, connectorId}`. No such connector in the account: 404."
)
SERVICE_FIELDS = {
    "by_serial_number": "bySerialNumber.serialNumber",
    "connector_id": "connectorId",
    "departure_at": "departureTime",
    "energy_needed_wh": "energyNeededKwh",
}
NOT_FOUND = "No connector of this account matches the identifier."


def changed_by(request) -> str:
    return str(request.user)


class PriorityView(APIView):
    """gridX's EVCS user priority: one priority per connector, -9..9, 0 by default, back to 0 on unplug."""

    pagination_class = OptionalPageNumberPagination

    def _connector(self, request, identifier: ConnectorIdentifierSerializer):
        with service_errors(**SERVICE_FIELDS):
            connector = selectors.connector_by_identifier(account=request_account(request), **identifier.lookup())
        if connector is None:
            raise NotFound(NOT_FOUND)
        return connector

    def _record(self, request, connector) -> dict:
        record = selectors.priority_records(account=request_account(request)).get(pk=connector.pk)
        return PriorityRecordSerializer(record).data

    @extend_schema(
        summary="Every connector's priority record",
        description="Every connector of the account's charge boxes (connector 0, the station itself, is not one), "
        "ordered by chargeBoxId and connectorId.",
        responses=PriorityRecordSerializer(many=True),
    )
    def get(self, request):
        records = selectors.priority_records(account=request_account(request))
        return optionally_paginated(request, self, records, lambda page: PriorityRecordSerializer(page, many=True).data)

    @extend_schema(
        summary="Set a connector's priority",
        description=f"{IDENTIFIER_DESCRIPTION} Setting the value it already has changes nothing. Extension: "
        "`departureTime` and `energyNeededKwh` tell load management what the vehicle needs (null clears them).",
        request=PrioritySetSerializer,
        responses=PriorityRecordSerializer,
    )
    def put(self, request):
        body = PrioritySetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        connector = self._connector(request, body)
        energy_kwh = data.get("energy_needed_kwh", UNCHANGED)
        with service_errors(**SERVICE_FIELDS):
            connector_priority_set(
                connector=connector,
                priority=data["priority"],
                source=PriorityChangeSource.API,
                changed_by=changed_by(request),
                departure_at=data.get("departure_at", UNCHANGED),
                energy_needed_wh=energy_kwh if energy_kwh in (None, UNCHANGED) else energy_kwh * 1000,
            )
        return Response(self._record(request, connector))

    @extend_schema(
        summary="Reset priorities to 0: every connector's, or (with an identifier body) one connector's",
        description="Without a body (or with `{}`), every connector of the account goes back to priority 0; with "
        f"an identifier, only that connector. {IDENTIFIER_DESCRIPTION} The reset connectors' departureTime and "
        "energyNeededKwh are cleared too.",
        request=ConnectorIdentifierSerializer,
        responses={204: OpenApiResponse(description="Reset")},
    )
    def delete(self, request):
        if isinstance(request.data, Mapping) and not request.data:
            account_priorities_reset(account=request_account(request), changed_by=changed_by(request))
            return Response(status=status.HTTP_204_NO_CONTENT)
        # A body that names no connector is refused rather than taken for "all": a misspelt identifier must not
        # reset every connector of the account.
        identifier = ConnectorIdentifierSerializer(data=request.data)
        identifier.is_valid(raise_exception=True)
        connector_priority_set(
            connector=self._connector(request, identifier),
            priority=0,
            source=PriorityChangeSource.RESET,
            changed_by=changed_by(request),
            departure_at=None,
            energy_needed_wh=None,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
