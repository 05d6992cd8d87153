"""POST /api/v1/operations/{Action}: SteVe's operations API, one endpoint per operation of ocpp_core.operations."""

from django.db import transaction
from django.urls import path
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from ocpp_core.operations import OPERATIONS, Operation
from ocpp_core.services.operations import operation_response, operation_run
from powerfill.api.errors import service_errors
from powerfill.api.permissions import request_account


class ErrorResponse(serializers.Serializer):
    """A charger answered with a CALLERROR."""

    chargeBoxId = serializers.CharField()
    errorCode = serializers.CharField()
    errorDescription = serializers.CharField()
    errorDetails = serializers.CharField()


class CallException(serializers.Serializer):
    """The request did not reach the charger, or no answer came back in time."""

    chargeBoxId = serializers.CharField()
    exceptionMessage = serializers.CharField()


def _response_serializer(operation: Operation):
    return inline_serializer(
        name=f"OcppOperationResponse{operation.action}",
        fields={
            "taskId": serializers.IntegerField(),
            "taskFinished": serializers.BooleanField(
                help_text="True when every charger answered (CALLRESULT or CALLERROR) before the timeout."
            ),
            "successResponses": inline_serializer(
                name=f"SuccessResponse{operation.action}",
                fields={"chargeBoxId": serializers.CharField(), "response": operation.response_field},
                many=True,
            ),
            "errorResponses": ErrorResponse(many=True),
            "exceptions": CallException(many=True),
        },
    )


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class OperationView(GenericAPIView):
    """Not one transaction per request: no database transaction stays open while chargers are waited for; the
    request is validated before anything is written."""

    operation: Operation

    def get_serializer_class(self):
        return self.operation.params

    def post(self, request):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        with service_errors():
            task = operation_run(
                account=request_account(request),
                action=self.operation.action,
                params=params.validated_data,
                requested_by=str(request.user),
            )
        return Response(operation_response(task))


def _view_for(operation: Operation):
    def post(self, request):
        return OperationView.post(self, request)

    post = extend_schema(
        summary=f"Send {operation.action} to charge boxes",
        description=operation.description,
        request=operation.params,
        responses=_response_serializer(operation),
        tags=["operations"],
    )(post)
    return type(f"{operation.action}OperationView", (OperationView,), {"operation": operation, "post": post})


urlpatterns = [
    path(f"operations/{name}", _view_for(operation).as_view(), name=f"operation-{name}")
    for name, operation in sorted(OPERATIONS.items())
]
