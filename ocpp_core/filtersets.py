"""SteVe's query filters for OCPP tags (GET /api/v1/ocppTags), with SteVe's parameter names and values."""

import django_filters
from django.db.models import Q, TextChoices

from .selectors import ocpp_tags_expired_q


class TriState(TextChoices):
    ALL = "ALL"
    TRUE = "TRUE"
    FALSE = "FALSE"


class UserFilter(TextChoices):
    ALL = "All"
    ONLY_TAGS_WITH_USER = "OnlyTagsWithUser"
    ONLY_TAGS_WITHOUT_USER = "OnlyTagsWithoutUser"


def _tri_state(queryset, value: str, condition: Q):
    if value == TriState.TRUE:
        return queryset.filter(condition)
    if value == TriState.FALSE:
        return queryset.exclude(condition)
    return queryset


class OcppTagFilterSet(django_filters.FilterSet):
    ocppTagPk = django_filters.NumberFilter(field_name="pk", help_text="Database primary key of the OCPP tag")
    idTag = django_filters.CharFilter(field_name="id_tag", lookup_expr="iexact", help_text="The OCPP tag")
    parentIdTag = django_filters.CharFilter(
        field_name="parent__id_tag", lookup_expr="iexact", help_text="The parent OCPP tag of this OCPP tag"
    )
    userId = django_filters.NumberFilter(field_name="user_id", help_text="The User ID")
    expired = django_filters.ChoiceFilter(
        choices=TriState.choices,
        method="filter_expired",
        help_text="Return expired, not expired, or all Ocpp tags? Defaults to ALL",
    )
    inTransaction = django_filters.ChoiceFilter(
        choices=TriState.choices,
        method="filter_in_transaction",
        help_text="Return in-transaction, not in-transaction, or all Ocpp tags? Defaults to ALL",
    )
    blocked = django_filters.ChoiceFilter(
        choices=TriState.choices,
        method="filter_blocked",
        help_text="Return blocked, not blocked, or all Ocpp tags? Defaults to ALL",
    )
    note = django_filters.CharFilter(
        field_name="note", lookup_expr="icontains", help_text="A substring of the note associated with the tag."
    )
    userFilter = django_filters.ChoiceFilter(
        choices=UserFilter.choices,
        method="filter_user",
        help_text="Filter by whether the OCPP tag is associated with a user or not. Defaults to All",
    )

    def filter_expired(self, queryset, name, value):
        return _tri_state(queryset, value, ocpp_tags_expired_q(expired=True))

    def filter_in_transaction(self, queryset, name, value):
        return _tri_state(queryset, value, Q(active_transaction_count__gt=0))

    def filter_blocked(self, queryset, name, value):
        return _tri_state(queryset, value, Q(max_active_transaction_count=0))

    def filter_user(self, queryset, name, value):
        if value == UserFilter.ONLY_TAGS_WITH_USER:
            return queryset.filter(user__isnull=False)
        if value == UserFilter.ONLY_TAGS_WITHOUT_USER:
            return queryset.filter(user__isnull=True)
        return queryset
