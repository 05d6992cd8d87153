"""CSV import and export of OCPP tags (django-import-export), always within one account."""

from import_export import fields, resources, widgets

from .models import OcppTag


class AccountTagWidget(widgets.ForeignKeyWidget):
    """A parent tag named by its idTag, looked up among the importing account's tags only."""

    def __init__(self, account):
        super().__init__(OcppTag, field="id_tag")
        self.account = account

    def get_queryset(self, value, row, *args, **kwargs):
        return OcppTag.objects.filter(account=self.account)


class OcppTagResource(resources.ModelResource):
    """Columns as the API names them. Rows are matched to existing tags by idTag; list parents before children."""

    id_tag = fields.Field(attribute="id_tag", column_name="idTag")
    parent = fields.Field(
        attribute="parent", column_name="parentIdTag", widget=widgets.ForeignKeyWidget(OcppTag, "id_tag")
    )
    expiry_date = fields.Field(attribute="expiry_date", column_name="expiryDate", widget=widgets.DateTimeWidget())
    max_active_transaction_count = fields.Field(
        attribute="max_active_transaction_count",
        column_name="maxActiveTransactionCount",
        widget=widgets.IntegerWidget(),
        default=1,
    )
    note = fields.Field(attribute="note", column_name="note", default="")

    class Meta:
        model = OcppTag
        fields = ("id_tag", "parent", "expiry_date", "max_active_transaction_count", "note")
        import_id_fields = ("id_tag",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def __init__(self, account=None, **kwargs):
        super().__init__(**kwargs)
        self.account = account
        if account is not None:
            self.fields["parent"].widget = AccountTagWidget(account)

    def get_queryset(self):
        tags = OcppTag.objects.select_related("parent")
        return tags if self.account is None else tags.filter(account=self.account)

    def init_instance(self, row=None):
        return OcppTag(account=self.account)

    def before_import(self, dataset, **kwargs):
        if self.account is None:
            raise ValueError("Your login belongs to no account; tags are imported into the importing user's account.")

    def dehydrate_note(self, tag):
        return tag.note or ""
