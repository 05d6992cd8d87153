"""Tariffs module objects: Tariff, TariffElement, PriceComponent, TariffRestrictions; and two general types a tariff
uses, Price (which sessions and CDRs take from here) and DisplayText."""

from rest_framework import serializers

from .common import OcpiDateTimeField, OcpiObject

TARIFF_TYPES = ["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
TARIFF_DIMENSION_TYPES = ["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
DAYS_OF_WEEK = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]  # date.weekday() order
RESERVATION_RESTRICTION_TYPES = ["RESERVATION", "RESERVATION_EXPIRES"]


class PriceSerializer(OcpiObject):
    # Not bounded below: a credit CDR carries negative costs.
    excl_vat = serializers.FloatField()
    incl_vat = serializers.FloatField(required=False)


class DisplayTextSerializer(OcpiObject):
    language = serializers.CharField(max_length=2)
    text = serializers.CharField(max_length=512)


class PriceComponentSerializer(OcpiObject):
    type = serializers.ChoiceField(choices=TARIFF_DIMENSION_TYPES)
    price = serializers.FloatField()
    vat = serializers.FloatField(min_value=0, required=False)
    step_size = serializers.IntegerField(min_value=0)  # the spec's own free-of-charge FLAT example has 0


class TariffRestrictionsSerializer(OcpiObject):
    start_time = serializers.RegexField(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$", max_length=5, required=False)
    end_time = serializers.RegexField(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$", max_length=5, required=False)
    start_date = serializers.RegexField(
        r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", max_length=10, required=False
    )
    end_date = serializers.RegexField(
        r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", max_length=10, required=False
    )
    min_kwh = serializers.FloatField(required=False)
    max_kwh = serializers.FloatField(required=False)
    min_current = serializers.FloatField(required=False)
    max_current = serializers.FloatField(required=False)
    min_power = serializers.FloatField(required=False)
    max_power = serializers.FloatField(required=False)
    min_duration = serializers.IntegerField(min_value=0, required=False)
    max_duration = serializers.IntegerField(min_value=0, required=False)
    day_of_week = serializers.ListField(child=serializers.ChoiceField(choices=DAYS_OF_WEEK), required=False)
    reservation = serializers.ChoiceField(choices=RESERVATION_RESTRICTION_TYPES, required=False)


class TariffElementSerializer(OcpiObject):
    price_components = PriceComponentSerializer(many=True, allow_empty=False)
    restrictions = TariffRestrictionsSerializer(required=False)


class TariffSerializer(OcpiObject):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    id = serializers.CharField(max_length=36)
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    type = serializers.ChoiceField(choices=TARIFF_TYPES, required=False)
    tariff_alt_text = DisplayTextSerializer(many=True, required=False)
    tariff_alt_url = serializers.URLField(max_length=255, required=False)
    min_price = PriceSerializer(required=False)
    max_price = PriceSerializer(required=False)
    elements = TariffElementSerializer(many=True, allow_empty=False)
    start_date_time = OcpiDateTimeField(required=False)
    end_date_time = OcpiDateTimeField(required=False)
    energy_mix = serializers.DictField(required=False)
    last_updated = OcpiDateTimeField()


class PushedTariffSerializer(TariffSerializer):
    """A tariff a CPO pushes to us (PUT): the spec's own PUT example leaves out last_updated, so here it may be
    missing (the receiver then takes the time it received the tariff). A tariff in a pull or in a CDR must have it."""

    last_updated = OcpiDateTimeField(required=False)
