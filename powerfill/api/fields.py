from rest_framework import serializers


class AccountPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """The primary key of one of the caller's own objects. Another account's object is unknown, as if absent."""

    def __init__(self, *, label_in_errors: str, account_lookup: str = "account", **kwargs):
        self.account_lookup = account_lookup
        super().__init__(**kwargs)
        self.error_messages["does_not_exist"] = f"Unknown {label_in_errors} {{pk_value}}."

    def get_queryset(self):
        account = self.context["request"].user.account
        return super().get_queryset().filter(**{self.account_lookup: account})
