"""SteVe's query filters for OCPP tags and transactions, with SteVe's parameter names and values."""

from datetime import timedelta
from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q, TextChoices
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from powerfill.api.filters import DateTimeFilter, StrictFilterSet, WholeNumberFilter, WholeNumberInFilter

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


class OcppTagFilterSet(StrictFilterSet):
    ocppTagPk = WholeNumberFilter(field_name="pk", min_value=1, help_text="Database primary key of the OCPP tag")
    idTag = django_filters.CharFilter(field_name="id_tag", lookup_expr="iexact", help_text="The OCPP tag")
    parentIdTag = django_filters.CharFilter(
        field_name="parent__id_tag", lookup_expr="iexact", help_text="The parent OCPP tag of this OCPP tag"
    )
    userId = WholeNumberFilter(field_name="user_id", min_value=1, help_text="The User ID")
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


class TransactionType(TextChoices):
    ALL = "ALL"
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"


class PeriodType(TextChoices):
    ALL = "ALL"
    TODAY = "TODAY"
    LAST_10 = "LAST_10"
    LAST_30 = "LAST_30"
    LAST_90 = "LAST_90"
    FROM_TO = "FROM_TO"


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class TransactionFilterSet(StrictFilterSet):
    """SteVe's transaction query (GET /api/v1/transactions). List parameters come repeated or comma separated."""

    transactionPk = WholeNumberInFilter(
        field_name="pk", min_value=1, help_text="Database primary keys of the transactions"
    )
    connectorId = WholeNumberFilter(field_name="connector_id", min_value=0)
    type = django_filters.ChoiceFilter(
        choices=TransactionType.choices, method="filter_type", help_text="Active, stopped or all. Defaults to ALL"
    )
    periodType = django_filters.ChoiceFilter(
        choices=PeriodType.choices,
        method="filter_period",
        help_text="Start time window. FROM_TO needs from and to, with to after from. Defaults to ALL",
    )
    chargeBoxId = CharInFilter(field_name="charge_box__charge_box_id", help_text="The charge box identifiers")
    ocppIdTag = CharInFilter(method="filter_id_tags", help_text="The OCPP tags (compared case-insensitively)")
    userId = WholeNumberInFilter(field_name="ocpp_tag__user_id", min_value=1, help_text="User IDs")
    # Read by filter_period; declared so they appear in the schema and are validated as date-times. "from" is a
    # Python keyword, so it is renamed below the class.
    from_ = DateTimeFilter(method="ignore", help_text="Started at or after (ISO 8601)")
    to = DateTimeFilter(method="ignore", help_text="Started at or before (ISO 8601)")

    LIST_PARAMETERS = ("transactionPk", "chargeBoxId", "ocppIdTag", "userId")

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and hasattr(data, "getlist"):
            data = data.copy()
            for name in self.LIST_PARAMETERS:
                if len(data.getlist(name)) > 1:
                    data[name] = ",".join(data.getlist(name))
        super().__init__(data, *args, **kwargs)

    def filter_id_tags(self, queryset, name, values):
        return queryset.filter(reduce(or_, (Q(id_tag__iexact=value) for value in values))) if values else queryset

    def ignore(self, queryset, name, value):
        return queryset

    def filter_type(self, queryset, name, value):
        if value == TransactionType.ACTIVE:
            return queryset.filter(stopped_at__isnull=True)
        if value == TransactionType.STOPPED:
            return queryset.filter(stopped_at__isnull=False)
        return queryset

    def filter_period(self, queryset, name, value):
        now = timezone.now()
        days = {PeriodType.LAST_10: 10, PeriodType.LAST_30: 30, PeriodType.LAST_90: 90}
        if value == PeriodType.TODAY:
            return queryset.filter(started_at__gte=now.replace(hour=0, minute=0, second=0, microsecond=0))
        if value in days:
            return queryset.filter(started_at__gte=now - timedelta(days=days[value]))
        if value == PeriodType.FROM_TO:
            start, end = self.form.cleaned_data.get("from"), self.form.cleaned_data.get("to")
            if start is None or end is None or end <= start:
                raise ValidationError({"to": "periodType FROM_TO needs from and to, with to after from."})
            return queryset.filter(started_at__gte=start, started_at__lte=end)
        return queryset


TransactionFilterSet.base_filters["from"] = TransactionFilterSet.base_filters.pop("from_")
TransactionFilterSet.base_filters.move_to_end("to")
