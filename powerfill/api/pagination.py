from rest_framework.pagination import PageNumberPagination


class OptionalPageNumberPagination(PageNumberPagination):
    """Paginate only when asked (?page= or ?pageSize=); otherwise lists keep SteVe's plain-array shape."""

    page_size = 100
    page_size_query_param = "pageSize"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        if self.page_query_param not in params and self.page_size_query_param not in params:
            return None
        return super().paginate_queryset(queryset, request, view)
