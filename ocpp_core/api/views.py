import csv

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ocpp_core import selectors
from ocpp_core.filtersets import OcppTagFilterSet, TransactionFilterSet
from ocpp_core.models import ChargeBox, OcppTag, OcppTagGroup, Transaction, User
from ocpp_core.services import registry as services
from powerfill.api.errors import service_errors
from powerfill.api.pagination import optionally_paginated
from powerfill.api.permissions import request_account

from .serializers import (
    ChargeBoxSerializer,
    OcppTagFormSerializer,
    OcppTagGroupSerializer,
    OcppTagOverviewSerializer,
    OcppTagPksSerializer,
    OcppTagUpdateFormSerializer,
    TransactionDetailsQuerySerializer,
    TransactionDetailsSerializer,
    TransactionReportQuerySerializer,
    TransactionSerializer,
    UserSerializer,
)

TAG_FIELDS = {"parent": "parentIdTag", "id_tag": "idTag", "user": "userPk", "expiry_date": "expiryDate"}


@extend_schema_view(
    list=extend_schema(summary="Charge boxes of the account"),
    create=extend_schema(summary="Register a charge box"),
    retrieve=extend_schema(summary="A charge box with its connectors"),
    update=extend_schema(summary="Replace a charge box's settings"),
    partial_update=extend_schema(summary="Change some of a charge box's settings"),
    destroy=extend_schema(summary="Delete a charge box that has no transactions"),
)
class ChargeBoxViewSet(viewsets.ModelViewSet):
    queryset = ChargeBox.objects.none()  # for the schema; requests use get_queryset
    serializer_class = ChargeBoxSerializer
    lookup_url_kwarg = "chargeBoxPk"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.charge_box_list(account=request_account(self.request))

    def perform_create(self, serializer):
        with service_errors(auth_password="authPassword"):
            serializer.instance = services.charge_box_create(
                account=request_account(self.request), **serializer.validated_data
            )

    def perform_update(self, serializer):
        with service_errors(auth_password="authPassword"):
            services.charge_box_update(charge_box=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        services.charge_box_delete(charge_box=instance)


@extend_schema_view(
    list=extend_schema(summary="OCPP tags, filtered as in SteVe", responses=OcppTagOverviewSerializer(many=True)),
    create=extend_schema(request=OcppTagFormSerializer, responses={201: OcppTagOverviewSerializer}),
    retrieve=extend_schema(responses=OcppTagOverviewSerializer),
    update=extend_schema(request=OcppTagUpdateFormSerializer, responses=OcppTagOverviewSerializer),
    destroy=extend_schema(summary="Delete a tag; answers the deleted tag", responses={200: OcppTagOverviewSerializer}),
)
class OcppTagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """SteVe's /api/v1/ocppTags. PUT replaces every field of SteVe's form (the idTag itself never changes)."""

    queryset = OcppTag.objects.none()  # for the schema; requests use get_queryset
    serializer_class = OcppTagOverviewSerializer
    filterset_class = OcppTagFilterSet
    lookup_url_kwarg = "ocppTagPk"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.ocpp_tag_list(account=request_account(self.request))

    def _overview(self, tag, status_code=status.HTTP_200_OK):
        tag = self.get_queryset().get(pk=tag.pk)
        return Response(OcppTagOverviewSerializer(tag).data, status=status_code)

    def _form(self, form_class) -> dict:
        form = form_class(data=self.request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def create(self, request):
        data = self._form(OcppTagFormSerializer)
        with service_errors(**TAG_FIELDS):
            tag = services.ocpp_tag_create(account=request_account(request), **data)
        return self._overview(tag, status.HTTP_201_CREATED)

    def update(self, request, ocppTagPk=None):
        tag = self.get_object()
        data = self._form(OcppTagUpdateFormSerializer)
        data.pop("id_tag", None)
        with service_errors(**TAG_FIELDS):
            services.ocpp_tag_update(ocpp_tag=tag, **data)
        return self._overview(tag)

    def destroy(self, request, ocppTagPk=None):
        tag = self.get_object()
        body = OcppTagOverviewSerializer(tag).data
        services.ocpp_tag_delete(ocpp_tag=tag)
        return Response(body)

    @extend_schema(
        summary="Expire a tag now (its expiry date becomes the current time)",
        request=None,
        responses=OcppTagOverviewSerializer,
    )
    @action(detail=True, methods=["patch"])
    def expire(self, request, ocppTagPk=None):
        tag = services.ocpp_tag_expire(ocpp_tag=self.get_object())
        return self._overview(tag)


@extend_schema_view(
    list=extend_schema(summary="Users: the people behind OCPP tags"),
    create=extend_schema(summary="Create a user, optionally with the tags they hold"),
    update=extend_schema(summary="Replace a user's details; ocppTagPks, when given, becomes their complete tag set"),
    destroy=extend_schema(summary="Delete a user; their tags stay, without a holder"),
)
class UserViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = User.objects.none()  # for the schema; requests use get_queryset
    serializer_class = UserSerializer
    lookup_url_kwarg = "userPk"
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.user_list(account=request_account(self.request))

    def perform_create(self, serializer):
        with service_errors():
            serializer.instance = services.user_create(
                account=request_account(self.request), **serializer.validated_data
            )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("ocpp_tags", None)
        with service_errors():
            services.user_update(user=serializer.instance, data=data, ocpp_tags=tags)

    def perform_destroy(self, instance):
        services.user_delete(user=instance)


@extend_schema_view(
    list=extend_schema(summary="OCPP tag groups"),
    create=extend_schema(summary="Create a tag group, optionally with tags"),
    retrieve=extend_schema(summary="A tag group"),
    destroy=extend_schema(summary="Delete a tag group; its tags stay, its permissions go"),
)
class OcppTagGroupViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = OcppTagGroup.objects.none()  # for the schema; requests use get_queryset
    serializer_class = OcppTagGroupSerializer
    lookup_url_kwarg = "ocppTagGroupPk"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.ocpp_tag_group_list(account=request_account(self.request))

    def perform_create(self, serializer):
        with service_errors(ocpp_tags="ocppTagPks"):
            serializer.instance = services.ocpp_tag_group_create(
                account=request_account(self.request), **serializer.validated_data
            )

    def perform_destroy(self, instance):
        services.ocpp_tag_group_delete(group=instance)

    def _group_tags(self, group):
        tags = selectors.ocpp_tag_list(account=request_account(self.request)).filter(groups=group)
        return optionally_paginated(
            self.request, self, tags, lambda page: OcppTagOverviewSerializer(page, many=True).data
        )

    def _tag_pks(self) -> list:
        body = OcppTagPksSerializer(data=self.request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return body.validated_data["ocpp_tags"]

    @extend_schema(summary="The group's tags", responses=OcppTagOverviewSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="ocppTags")
    def ocpp_tags(self, request, ocppTagGroupPk=None):
        return self._group_tags(self.get_object())

    @extend_schema(
        summary="Add tags to the group (idempotent)",
        request=OcppTagPksSerializer,
        responses=OcppTagOverviewSerializer(many=True),
    )
    @action(detail=True, methods=["put"], url_path="ocppTags/add")
    def add_ocpp_tags(self, request, ocppTagGroupPk=None):
        group = self.get_object()
        services.ocpp_tag_group_add_tags(group=group, ocpp_tags=self._tag_pks())
        return self._group_tags(group)

    @extend_schema(
        summary="Remove tags from the group (idempotent)",
        request=OcppTagPksSerializer,
        responses=OcppTagOverviewSerializer(many=True),
    )
    @action(detail=True, methods=["put"], url_path="ocppTags/delete")
    def delete_ocpp_tags(self, request, ocppTagGroupPk=None):
        group = self.get_object()
        services.ocpp_tag_group_remove_tags(group=group, ocpp_tags=self._tag_pks())
        return self._group_tags(group)


@extend_schema_view(
    list=extend_schema(summary="Transactions, filtered as in SteVe"),
    retrieve=extend_schema(
        summary="A transaction with its meter values",
        parameters=[TransactionDetailsQuerySerializer],
        responses=TransactionDetailsSerializer,
    ),
)
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Transaction.objects.none()  # for the schema; requests use get_queryset
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilterSet
    lookup_url_kwarg = "transactionPk"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.transaction_list(account=request_account(self.request))

    def retrieve(self, request, transactionPk=None):
        tx = self.get_object()
        query = TransactionDetailsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = selectors.transaction_meter_values(
            transaction=tx, energy_only=query.validated_data["energyValuesOnly"]
        )
        return Response(TransactionDetailsSerializer({"transaction": tx, "values": values}).data)

    @extend_schema(
        summary="Mark a transaction stopped without contacting the charger",
        description="For sessions the charger never closed: it ends now, at the last energy reading, stopEventActor "
        "manual. A stopped transaction answers 400.",
        request=None,
        responses=TransactionSerializer,
    )
    @action(detail=True, methods=["patch"])
    def stop(self, request, transactionPk=None):
        tx = self.get_object()
        with service_errors():
            services.transaction_stop_manually(transaction=tx)
        return Response(TransactionSerializer(self.get_queryset().get(pk=tx.pk)).data)

    @extend_schema(
        summary="Transactions stopped between from and to, as CSV",
        parameters=[TransactionReportQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"], url_path="reports/csv")
    def report_csv(self, request):
        query = TransactionReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        stopped = (
            self.get_queryset()
            .filter(stopped_at__gte=query.validated_data["from"], stopped_at__lte=query.validated_data["to"])
            .order_by("stopped_at", "pk")
        )
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="transaction_report.csv"'
        writer = csv.writer(response)
        columns = list(TransactionSerializer().fields)
        writer.writerow(columns)
        for row in TransactionSerializer(stopped, many=True).data:
            writer.writerow([row[column] if row[column] is not None else "" for column in columns])
        return response
