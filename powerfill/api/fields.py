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


# SteVe's and OCPP's integers are 32-bit (transactionIds, list versions, connector ids, counts).
INT32_MAX = 2**31 - 1


class Int32Field(serializers.IntegerField):
    """An integer that fits 32 bits: a larger one is a 400, never sent to a charger or stored to overflow later."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", INT32_MAX)
        kwargs.setdefault("min_value", -INT32_MAX - 1)
        super().__init__(**kwargs)
