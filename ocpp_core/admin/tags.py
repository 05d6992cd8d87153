from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from permissions.admin import PermissionInline
from permissions.models import OcppTagGroupPermission
from permissions.selectors import charge_boxes_allowed_for
from powerfill.accounts.scoping import AccountScopedAdmin, scope_to_account

from ..models import OcppTag, OcppTagGroup, User
from ..resources import OcppTagResource
from ..selectors import active_transaction_count, ocpp_tags_expired_q
from ..services import registry as services
from .common import admin_link, resolver_table


class BlockedFilter(admin.SimpleListFilter):
    title = "blocked"
    parameter_name = "blocked"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(max_active_transaction_count=0)
        if self.value() == "no":
            return queryset.exclude(max_active_transaction_count=0)
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(ocpp_tags_expired_q(expired=self.value() == "yes"))
        return queryset


class InTransactionFilter(admin.SimpleListFilter):
    title = "in transaction"
    parameter_name = "in_transaction"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(active_transactions__gt=0)
        if self.value() == "no":
            return queryset.filter(active_transactions=0)
        return queryset


@admin.register(OcppTag)
class OcppTagAdmin(ImportExportMixin, AccountScopedAdmin):
    resource_classes = (OcppTagResource,)
    import_formats = (CSV,)
    export_formats = (CSV,)
    list_display = (
        "id_tag",
        "user",
        "parent",
        "expiry_date",
        "max_active_transaction_count",
        "is_blocked",
        "active_transaction_count",
        "note",
    )
    list_select_related = ("user", "parent", "account")
    # Related-only: the choices come from this admin's queryset, so an operator is offered only their own groups.
    list_filter = (BlockedFilter, ExpiredFilter, InTransactionFilter, ("groups", admin.RelatedOnlyFieldListFilter))
    search_fields = ("id_tag", "note", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("parent", "user")
    fields = (
        "account",
        "id_tag",
        "parent",
        "user",
        "expiry_date",
        "max_active_transaction_count",
        "note",
        "where_may_this_tag_charge",
    )
    readonly_fields = ("where_may_this_tag_charge",)
    actions = ("block", "unblock", "expire_now")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(active_transactions=active_transaction_count())

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {**super().get_resource_kwargs(request, *args, **kwargs), "account": request.user.account}

    @admin.display(description="blocked", boolean=True, ordering="max_active_transaction_count")
    def is_blocked(self, tag):
        return tag.blocked

    @admin.display(description="active transactions", ordering="active_transactions")
    def active_transaction_count(self, tag):
        return tag.active_transactions

    @admin.display(description="stations this tag may use (permission resolver)")
    def where_may_this_tag_charge(self, tag):
        if not tag.pk:
            return "—"
        charge_boxes = charge_boxes_allowed_for(ocpp_tag=tag).order_by("charge_box_id")
        return resolver_table(charge_boxes, admin_link, "charge box")

    @admin.action(description="Block selected tags")
    def block(self, request, queryset):
        for tag in queryset:
            services.ocpp_tag_set_blocked(ocpp_tag=tag, blocked=True)
        self.message_user(request, f"Blocked {len(queryset)} tag(s).")

    @admin.action(description="Unblock selected tags (one session at a time)")
    def unblock(self, request, queryset):
        for tag in queryset:
            services.ocpp_tag_set_blocked(ocpp_tag=tag, blocked=False)
        self.message_user(request, f"Unblocked {len(queryset)} tag(s).")

    @admin.action(description="Expire selected tags now")
    def expire_now(self, request, queryset):
        now = timezone.now()
        for tag in queryset:
            services.ocpp_tag_expire(ocpp_tag=tag, at=now)
        self.message_user(request, f"Expired {len(queryset)} tag(s).", level=messages.SUCCESS)


class UserForm(forms.ModelForm):
    ocpp_tags = forms.ModelMultipleChoiceField(
        label="OCPP tags",
        queryset=OcppTag.objects.none(),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("OCPP tags", False),
        help_text="The tags this person holds. A tag has one holder: choosing it here takes it from another user.",
    )

    class Meta:
        model = User
        fields = ("account", "first_name", "last_name", "email", "phone", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["ocpp_tags"].initial = list(self.instance.ocpp_tags.values_list("pk", flat=True))


@admin.register(User)
class UserAdmin(AccountScopedAdmin):
    form = UserForm
    list_display = ("__str__", "first_name", "last_name", "email", "phone", "tag_count")
    list_display_links = ("__str__",)
    list_select_related = ("account",)
    search_fields = ("first_name", "last_name", "email", "phone", "note", "ocpp_tags__id_tag")
    list_filter = ("created_at",)
    ordering = ("last_name", "first_name", "pk")  # Meta.ordering does not survive the Count below (autocomplete)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(tags_total=Count("ocpp_tags"))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["ocpp_tags"].queryset = scope_to_account(OcppTag.objects.all(), request.user)
        return form

    @admin.display(description="OCPP tags", ordering="tags_total")
    def tag_count(self, user):
        return user.tags_total

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.user_set_ocpp_tags(user=form.instance, ocpp_tags=form.cleaned_data["ocpp_tags"])


class OcppTagGroupPermissionInline(PermissionInline):
    model = OcppTagGroupPermission
    autocomplete_fields = ("node",)
    verbose_name_plural = "permissions of this group"


@admin.register(OcppTagGroup)
class OcppTagGroupAdmin(AccountScopedAdmin):
    list_display = ("name", "tag_count", "permission_count", "created_at")
    list_select_related = ("account",)
    search_fields = ("name", "ocpp_tags__id_tag")
    list_filter = ("created_at",)
    ordering = ("name",)  # Meta.ordering does not survive the Counts below (autocomplete)
    filter_horizontal = ("ocpp_tags",)
    inlines = (OcppTagGroupPermissionInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                tags_total=Count("ocpp_tags", distinct=True), permissions_total=Count("permissions", distinct=True)
            )
        )

    @admin.display(description="OCPP tags", ordering="tags_total")
    def tag_count(self, group):
        return group.tags_total

    @admin.display(description="permissions", ordering="permissions_total")
    def permission_count(self, group):
        return group.permissions_total
