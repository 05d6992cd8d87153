from django.db.models import Case, Count, F, FloatField, IntegerField, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from powerfill.accounts.models import Account

from .models import ENERGY_REGISTER, ChargeBox, MeterValue, OcppTag, OcppTagGroup, Transaction, User


def charge_box_list(*, account: Account) -> QuerySet[ChargeBox]:
    return ChargeBox.objects.filter(account=account).prefetch_related("connectors")


def charge_box_by_id(*, account: Account, charge_box_id: str) -> ChargeBox | None:
    try:  # get(), not first(): the identity is unique, so no ORDER BY is needed
        return ChargeBox.objects.get(account=account, charge_box_id=charge_box_id)
    except ChargeBox.DoesNotExist:
        return None


def active_transaction_count(tag_ref="pk") -> Coalesce:
    """The number of running transactions of the tag at `tag_ref`, as a subquery expression."""
    running = (
        Transaction.objects.filter(ocpp_tag=OuterRef(tag_ref), stopped_at__isnull=True)
        .order_by()
        .values("ocpp_tag")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(running, output_field=IntegerField()), 0)


def ocpp_tag_list(*, account: Account | None = None) -> QuerySet[OcppTag]:
    """Tags with SteVe's overview column `active_transaction_count` (in transaction: more than 0)."""
    tags = OcppTag.objects.all() if account is None else OcppTag.objects.filter(account=account)
    return tags.select_related("parent").annotate(active_transaction_count=active_transaction_count())


def ocpp_tag_by_id_tag(*, account: Account, id_tag: str) -> OcppTag | None:
    """idTags compare case-insensitively (OCPP CiString), through the LOWER(id_tag) unique index."""
    tags = OcppTag.objects.alias(id_tag_lower=Lower("id_tag"))
    return tags.filter(account=account, id_tag_lower=id_tag.lower()).first()


def ocpp_tags_expired_q(*, expired: bool, at=None) -> Q:
    now = at or timezone.now()
    is_expired = Q(expiry_date__isnull=False, expiry_date__lte=now)
    return is_expired if expired else ~is_expired


def user_list(*, account: Account) -> QuerySet[User]:
    return User.objects.filter(account=account).prefetch_related("ocpp_tags")


def ocpp_tag_group_list(*, account: Account) -> QuerySet[OcppTagGroup]:
    return OcppTagGroup.objects.filter(account=account).prefetch_related("ocpp_tags")


def latest_meter_wh(transaction_ref="pk") -> Subquery:
    """The newest total energy register reading of the transaction at `transaction_ref`, in Wh. Derived from the
    stored meter values rather than kept on the transaction: MeterValues arrive far more often than anyone reads
    a running session's energy."""
    readings = (
        MeterValue.objects.filter(
            transaction=OuterRef(transaction_ref),
            measurand__in=("", ENERGY_REGISTER),
            phase="",
            numeric_value__isnull=False,
            unit__in=("", "Wh", "kWh"),
        )
        .order_by("-timestamp", "-pk")
        .annotate(wh=Case(When(unit="kWh", then=F("numeric_value") * 1000), default=F("numeric_value")))
        .values("wh")[:1]
    )
    return Subquery(readings, output_field=FloatField())


def with_latest_meter(transactions: QuerySet[Transaction]) -> QuerySet[Transaction]:
    return transactions.annotate(latest_meter=latest_meter_wh())


def transaction_list(*, account: Account) -> QuerySet[Transaction]:
    transactions = Transaction.objects.filter(charge_box__account=account).select_related("charge_box", "ocpp_tag")
    return with_latest_meter(transactions)


def transaction_meter_values(*, transaction: Transaction, energy_only: bool) -> QuerySet:
    values = transaction.meter_values.all()
    if energy_only:
        values = values.filter(Q(measurand="") | Q(measurand=ENERGY_REGISTER))
    return values.order_by("timestamp", "pk")
