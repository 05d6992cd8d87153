from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class OptionalPageNumberPagination(PageNumberPagination):
    """Paginate only when asked (?page= or ?pageSize=); otherwise lists keep SteVe's plain-array shape, and the
    OpenAPI document says so: a list answers one or the other.

    A page or page size that is not a positive whole number (the page size at most 1000) is a 400 (DRF would
    quietly use the default size, or answer 404 "Invalid page"); a page past the end stays 404."""

    page_size = 100
    page_size_query_param = "pageSize"
    max_page_size = 1000
    last_page_strings = ()  # ?page=last is not part of the contract

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number, from 1 (pages the list; a page past the end answers 404).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Items per page, 1 to {self.max_page_size} (pages the list; default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        page["description"] = "A page, when page or pageSize is given."
        return {"oneOf": [{**schema, "description": "The whole list, when neither page nor pageSize is given."}, page]}

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        if self.page_query_param not in params and self.page_size_query_param not in params:
            return None
        errors = {}
        page = params.get(self.page_query_param)
        if page is not None and page not in self.last_page_strings and not _positive_int(page):
            errors[self.page_query_param] = ["A page number is a whole number from 1."]
        size = params.get(self.page_size_query_param)
        if size is not None and not (_positive_int(size) and int(size) <= self.max_page_size):
            errors[self.page_size_query_param] = [f"A page size is a whole number from 1 to {self.max_page_size}."]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)


def _positive_int(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= 1


def optionally_paginated(request, view, items, serialize=lambda page: page) -> Response:
    """A list answer for views that are not generic list views, paginated on request like those (by the view's
    pagination_class, which the OpenAPI document reads too)."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(items, request, view)
    if page is None:
        return Response(serialize(items))
    return paginator.get_paginated_response(serialize(page))
