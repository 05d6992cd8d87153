from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from ocpp_core.selectors import charge_box_by_id, ocpp_tag_group_list, ocpp_tag_list
from permissions import selectors, services
from powerfill.api.pagination import OptionalPageNumberPagination, optionally_paginated
from powerfill.api.permissions import request_account

from .serializers import (
    NodeQuerySerializer,
    OcppTagGroupPermissionSerializer,
    OcppTagPermissionSerializer,
    PermissionCheckQuerySerializer,
    PermissionCheckSerializer,
)


class _PermissionViews:
    """The three permission endpoints, the same for tags and for tag groups."""

    serializer_class: type
    holder_field: str  # the permission's field naming the holder
    holder_url_kwarg: str

    def holders(self, request):
        raise NotImplementedError

    def permissions(self, holder):
        raise NotImplementedError


class _GrantView(_PermissionViews, APIView):
    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        permission, created = services.permission_grant(
            holder=data[self.holder_field],
            node=data["node"],
            applies_to_all_children=data["applies_to_all_children"],
        )
        return Response(
            self.serializer_class(permission).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class _HolderPermissionsView(_PermissionViews, APIView):
    pagination_class = OptionalPageNumberPagination

    def holder(self, request):
        return get_object_or_404(self.holders(request), pk=self.kwargs[self.holder_url_kwarg])

    def get(self, request, **kwargs):
        permissions = self.permissions(self.holder(request))
        return optionally_paginated(
            request, self, permissions, lambda page: self.serializer_class(page, many=True).data
        )

    def delete(self, request, **kwargs):
        holder = self.holder(request)
        node = None
        if "nodeId" in request.query_params:
            query = NodeQuerySerializer(data=request.query_params, context={"request": request})
            query.is_valid(raise_exception=True)
            node = query.validated_data["node"]
        if not services.permission_revoke(holder=holder, node=node) and node is not None:
            raise NotFound(f"No permission on node {node.pk}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class _TagPermissions:
    serializer_class = OcppTagPermissionSerializer
    holder_field = "ocpp_tag"
    holder_url_kwarg = "ocppTagPk"

    def holders(self, request):
        return ocpp_tag_list(account=request_account(request))

    def permissions(self, holder):
        return selectors.ocpp_tag_permission_list(ocpp_tag=holder)


class _GroupPermissions:
    serializer_class = OcppTagGroupPermissionSerializer
    holder_field = "ocpp_tag_group"
    holder_url_kwarg = "ocppTagGroupPk"

    def holders(self, request):
        return ocpp_tag_group_list(account=request_account(request))

    def permissions(self, holder):
        return selectors.ocpp_tag_group_permission_list(group=holder)


_CREATED_OR_UPDATED = "201 when created; 200 when the tag already had a permission there (its flag is updated)."
_NODE_ID = OpenApiParameter("nodeId", int, description="Delete only the permission on this node.")


@extend_schema(
    summary="Grant a tag access at a node",
    description=_CREATED_OR_UPDATED,
    responses={201: OcppTagPermissionSerializer, 200: OcppTagPermissionSerializer},
)
class OcppTagGrantView(_TagPermissions, _GrantView):
    pass


class OcppTagPermissionsView(_TagPermissions, _HolderPermissionsView):
    @extend_schema(summary="A tag's permissions", responses=OcppTagPermissionSerializer(many=True))
    def get(self, request, **kwargs):
        return super().get(request, **kwargs)

    @extend_schema(
        summary="Revoke a tag's permissions (all, or the one on ?nodeId=)",
        parameters=[_NODE_ID],
        responses={204: OpenApiResponse(description="Revoked")},
    )
    def delete(self, request, **kwargs):
        return super().delete(request, **kwargs)


@extend_schema(
    summary="Grant a tag group access at a node",
    description=_CREATED_OR_UPDATED.replace("tag", "group"),
    responses={201: OcppTagGroupPermissionSerializer, 200: OcppTagGroupPermissionSerializer},
)
class OcppTagGroupGrantView(_GroupPermissions, _GrantView):
    pass


class OcppTagGroupPermissionsView(_GroupPermissions, _HolderPermissionsView):
    @extend_schema(summary="A tag group's permissions", responses=OcppTagGroupPermissionSerializer(many=True))
    def get(self, request, **kwargs):
        return super().get(request, **kwargs)

    @extend_schema(
        summary="Revoke a tag group's permissions (all, or the one on ?nodeId=)",
        parameters=[_NODE_ID],
        responses={204: OpenApiResponse(description="Revoked")},
    )
    def delete(self, request, **kwargs):
        return super().delete(request, **kwargs)


class PermissionCheckView(APIView):
    @extend_schema(
        summary="May this tag charge at this station?",
        description=(
            "`allowed` applies the permission rule: the station's node, or an ancestor with appliesToAllChildren, "
            "carries a permission of the tag (`via: ocppTag`) or else of one of its groups (`via: ocppTagGroup`); "
            "`nodeId` is the node holding that permission. `status` is what OCPP Authorize would answer now, which "
            "also considers blocked and expired tags and concurrent sessions."
        ),
        parameters=[PermissionCheckQuerySerializer],
        responses=PermissionCheckSerializer,
    )
    def get(self, request):
        query = PermissionCheckQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        charge_box = charge_box_by_id(
            account=request_account(request), charge_box_id=query.validated_data["chargeBoxId"]
        )
        if charge_box is None:
            raise NotFound(f"Unknown charge box {query.validated_data['chargeBoxId']}.")
        decision = selectors.tag_authorization(id_tag=query.validated_data["idTag"], charge_box=charge_box)
        return Response(
            {
                "allowed": decision.permission.allowed,
                "via": decision.permission.via,
                "nodeId": decision.permission.node_id,
                "status": decision.status,
            }
        )
