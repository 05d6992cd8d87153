from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from powerfill.api.errors import service_errors
from powerfill.api.pagination import OptionalPageNumberPagination, optionally_paginated
from powerfill.api.permissions import request_account
from sites import selectors, services
from sites.models import Node

from .serializers import SiteCreateSerializer, SiteNodeSerializer, SiteUpdateSerializer

SERVICE_FIELDS = {"parent": "parentId", "charge_box_ids": "chargeBoxIds"}


class SiteListView(APIView):
    pagination_class = OptionalPageNumberPagination

    @extend_schema(
        summary="The account's sites: every root node with its whole tree",
        responses=SiteNodeSerializer(many=True),
    )
    def get(self, request):
        return optionally_paginated(request, self, selectors.site_trees(account=request_account(request)))

    @extend_schema(
        summary="Create a site tree, or graft one under an existing node (parentId)",
        request=SiteCreateSerializer,
        responses={201: SiteNodeSerializer},
    )
    def post(self, request):
        account = request_account(request)
        serializer = SiteCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        spec = dict(serializer.validated_data)
        parent = spec.pop("parent", None)
        with service_errors(**SERVICE_FIELDS):
            root = services.site_create(account=account, spec=spec, parent=parent)
        [tree] = selectors.site_trees(account=account, root=root)
        return Response(tree, status=status.HTTP_201_CREATED)


class SiteDetailView(APIView):
    def get_node(self, request, node_id: int) -> Node:
        return get_object_or_404(selectors.node_list(account=request_account(request)), pk=node_id)

    @extend_schema(summary="A node with its subtree", responses=SiteNodeSerializer)
    def get(self, request, id: int):
        node = self.get_node(request, id)
        [tree] = selectors.site_trees(account=request_account(request), root=node)
        return Response(tree)

    @extend_schema(
        summary="Rename, move (parentId) or assign charge boxes (chargeBoxIds: the complete set)",
        description=(
            "A charge box belongs to at most one node, so assigning it here moves it. Moving a node under itself "
            "or one of its descendants, or naming an unknown charge box, answers 400 and changes nothing."
        ),
        request=SiteUpdateSerializer,
        responses=SiteNodeSerializer,
    )
    def put(self, request, id: int):
        account = request_account(request)
        node = self.get_node(request, id)
        serializer = SiteUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        with service_errors(**SERVICE_FIELDS):
            node = services.site_update(node=node, data=data)
        [tree] = selectors.site_trees(account=account, root=node)
        return Response(tree)

    @extend_schema(
        summary="Delete a node and its whole subtree",
        description="The subtree's charge boxes become unassigned and every permission on its nodes is deleted.",
        responses={204: OpenApiResponse(description="Deleted")},
    )
    def delete(self, request, id: int):
        services.site_delete(node=self.get_node(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)
