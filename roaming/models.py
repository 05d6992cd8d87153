import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper

from ocpp_core.models import OcppTag, OcppTagGroup
from powerfill.accounts.models import Account
from sites.models import Node

from .choices import (
    CommandResponseType,
    CommandResultType,
    CommandType,
    OcpiRole,
    ParkingType,
    RegistrationState,
    TokenType,
    WhitelistType,
)
from .fields import CiCharField
from .ocpi211 import PARTNER_INTERFACE


def ci_unique(*fields: str, name: str, ci: tuple[str, ...], what: str) -> models.UniqueConstraint:
    """Unique `fields` where those in `ci` are CiStrings (country codes, party ids, OCPI ids): compared upper-cased,
    so one id in two spellings is one row (a CiCharField matches it in any case); each row keeps the
    spelling it was given."""
    expressions = [Upper(field) if field in ci else models.F(field) for field in fields]
    return models.UniqueConstraint(
        *expressions, name=name, violation_error_message=f"{what} exists already (OCPI ids ignore case)."
    )


def new_token() -> str:
    """A credentials token: 43 URL-safe characters of the 64 OCPI allows."""
    return secrets.token_urlsafe(32)


country_code_validator = RegexValidator(r"^[A-Z]{2}$", "Two capital letters (ISO 3166-1 alpha-2).")
party_id_validator = RegexValidator(r"^[A-Z0-9]{3}$", "Three capitals or digits (ISO 15118 party id).")


class OcpiIdentity(models.Model):
    """Who an account is in OCPI: a country code and party id, used in both of the roles Powerfill plays for it (CPO
    for its charge boxes, eMSP for its tags), and the business details partners show. An account operating in
    several countries has one per country; its credentials list them all."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpi_identities")
    country_code = models.CharField(max_length=2, validators=[country_code_validator])
    party_id = models.CharField(max_length=3, validators=[party_id_validator])
    name = models.CharField(max_length=100, help_text="Business name shown to roaming partners.")
    website = models.URLField(blank=True)

    class Meta:
        verbose_name = "OCPI identity"
        constraints = [
            models.UniqueConstraint(fields=["country_code", "party_id"], name="roaming_identity_unique_party"),
        ]

    def __str__(self):
        return f"{self.country_code}*{self.party_id} ({self.name})"


class Party(models.Model):
    """A roaming partner's platform, seen from one of our accounts: how to reach it (its versions URL, the version
    both speak and its endpoints), the token it calls us with and the one we call it with.

    The handshake, either way round: an operator issues token A here and hands it over (the partner then registers
    with us), or enters the partner's versions URL and the token A it issued (we register with it). Afterwards
    `incoming_token` is token C (or B) and `outgoing_token` token B (or C)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ocpi_parties")
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=12, choices=RegistrationState.choices, default=RegistrationState.INVITED)
    versions_url = models.URLField(blank=True, max_length=255, help_text="The partner's versions endpoint.")
    version = models.CharField(max_length=10, blank=True, help_text="The OCPI version both speak.")
    endpoints = models.JSONField(
        default=list, blank=True, help_text="The partner's endpoints of that version: identifier, role, url."
    )
    incoming_token = models.CharField(
        max_length=64,
        unique=True,
        default=new_token,
        help_text="The token the partner calls us with (token A until it registered).",
    )
    outgoing_token = models.CharField(max_length=64, blank=True, help_text="The token we call the partner with.")
    plain_token_header = models.BooleanField(
        default=False,
        help_text="Send our token as it is instead of base64-encoded (OCPI 2.1.1 and many 2.2 implementations).",
    )
    ocpi211_role = models.CharField(
        "OCPI 2.1.1 role",
        max_length=5,
        choices=[(OcpiRole.CPO.value, "CPO"), (OcpiRole.EMSP.value, "eMSP")],
        blank=True,
        help_text="For a partner that speaks OCPI 2.1.1, where a connection has one role: the one the partner plays "
        "(we play the other).",
    )
    registered_at = models.DateTimeField(null=True, blank=True)
    token_group = models.ForeignKey(
        OcppTagGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The tag group the partner's tokens join (as eMSP): grant it permissions on the nodes where they "
        "may charge. Created with the first token.",
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="roaming_party_unique_name")]

    def __str__(self):
        return self.name

    def serves(self, url: str) -> bool:
        """Whether `url` is on one of the partner's hosts (its versions URL and endpoints): we call only those with
        our token, whatever a partner asks us to call (a response_url, a next page)."""
        hosts = {urlsplit(u).netloc.lower() for u in [self.versions_url, *(e.get("url", "") for e in self.endpoints)]}
        return bool(url) and urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc.lower() in hosts - {""}

    def endpoint_url(self, identifier: str, role: str) -> str | None:
        """The URL of the partner's `identifier` module in `role` (SENDER or RECEIVER). OCPI 2.1.1 endpoints say no
        role: the partner's role decides which interface each module is."""
        for endpoint in self.endpoints:
            if endpoint.get("identifier") != identifier:
                continue
            endpoint_role = endpoint.get("role")
            if endpoint_role is None and self.ocpi211_role:
                endpoint_role = PARTNER_INTERFACE[self.ocpi211_role].get(identifier)
            if endpoint_role in (role, None):
                return endpoint.get("url")
        return None


class PartyRole(models.Model):
    """A role the partner's platform plays, as its credentials list them (one platform may be CPO and eMSP)."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=5, choices=OcpiRole.choices)
    country_code = CiCharField(max_length=2)
    party_id = CiCharField(max_length=3)
    business_details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["country_code", "party_id", "role"]
        constraints = [
            ci_unique(
                "partner",
                "country_code",
                "party_id",
                "role",
                name="roaming_role_unique_ci",
                ci=("country_code", "party_id"),
                what="This role of the party",
            ),
        ]

    def __str__(self):
        return f"{self.country_code}*{self.party_id} {self.role}"


class Location(models.Model):
    """A charging location we publish over OCPI as a CPO: a site node, whose subtree's charge boxes are its EVSEs (one
    per OCPP connector), with the address and position partners show."""

    identity = models.ForeignKey(
        OcpiIdentity, on_delete=models.PROTECT, related_name="locations", help_text="Whose location it is in OCPI."
    )
    node = models.OneToOneField(Node, on_delete=models.CASCADE, related_name="ocpi_location")
    ocpi_id = CiCharField("OCPI id", max_length=36, help_text="Unique among the identity's locations.")
    publish = models.BooleanField(default=True, help_text="Shown to the public by eMSPs (apps, maps).")
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=45)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=20, blank=True)
    country = models.CharField(
        max_length=3, validators=[RegexValidator(r"^[A-Z]{3}$", "ISO 3166-1 alpha-3, e.g. DEU.")]
    )
    latitude = models.DecimalField(max_digits=9, decimal_places=7)
    longitude = models.DecimalField(max_digits=10, decimal_places=7)
    time_zone = models.CharField(max_length=255, help_text="IANA time zone, e.g. Europe/Berlin.")
    parking_type = models.CharField(max_length=20, choices=ParkingType.choices, blank=True)
    tariff = models.ForeignKey(
        "Tariff",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="locations",
        help_text="What charging here costs (every connector); sessions are priced by the version in force then.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ocpi_id"]
        constraints = [
            ci_unique("identity", "ocpi_id", name="roaming_location_unique_id_ci", ci=("ocpi_id",), what="A location"),
        ]

    def __str__(self):
        return self.name or self.ocpi_id

    def clean(self):
        if self.node_id and self.identity_id and self.node.account_id != self.identity.account_id:
            raise ValidationError({"node": "The node belongs to another account than the OCPI identity."})
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise ValidationError({"latitude": "Between -90 and 90."})
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise ValidationError({"longitude": "Between -180 and 180."})


class PartnerLocation(models.Model):
    """A location of a partner CPO, as we know it as eMSP: pushed by the CPO (Receiver interface) or pulled from it,
    both through roaming.services.partner_locations. The object is kept as the CPO sent it (checked against the
    2.2.1 field rules); the columns are what we look it up and order it by."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="locations")
    country_code = CiCharField(max_length=2)
    party_id = CiCharField(max_length=3)
    ocpi_id = CiCharField("OCPI id", max_length=36)
    data = models.JSONField()
    last_updated = models.DateTimeField(help_text="The CPO's last_updated of the object.")
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country_code", "party_id", "ocpi_id"]
        constraints = [
            ci_unique(
                "partner",
                "country_code",
                "party_id",
                "ocpi_id",
                name="roaming_partner_location_unique_ci",
                ci=("country_code", "party_id", "ocpi_id"),
                what="This location",
            ),
        ]

    def __str__(self):
        return f"{self.country_code}*{self.party_id} {self.ocpi_id}"


class ModuleSync(models.Model):
    """Where pulling one module from a partner stands: the next pull asks for what changed since the last one began
    (date_from), so a partner that was down is caught up with, and nothing is fetched twice over."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="syncs")
    module = models.CharField(max_length=20)
    pulled_until = models.DateTimeField(null=True, blank=True, help_text="date_from of the next pull.")
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_pull_objects = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "module"], name="roaming_module_sync_unique")]

    def __str__(self):
        return f"{self.partner} {self.module}"


class OutboxMessage(models.Model):
    """A change to push to a partner, written in the same transaction as the change itself, so none is lost. A
    worker claims a message with a conditional UPDATE (two workers never send the same one), and a message waits
    while an older one with the same key (one object) is unsent, so a partner gets an object's changes in order.
    Retries are bounded: after OCPI_PUSH_MAX_ATTEMPTS the message is given up, and the partner's next pull (OCPI
    says receivers catch up by pulling) brings it the object as it is then. When the credentials end (a DELETE, a new
    token A) what is unsent is cancelled: given up and marked cancelled, so nothing goes out without a token."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="outbox")
    key = models.CharField(max_length=200, help_text="The object, e.g. locations:DE:ACM:LOC1; order is kept per key.")
    method = models.CharField(max_length=6)
    url = models.URLField(max_length=500, default="", db_default="")  # empty until sent, where build_at_send
    body = models.JSONField(null=True, blank=True)
    build_at_send = models.BooleanField(
        default=False,
        help_text="URL and body are made when it is sent, from the object as it is then (sessions and CDRs, whose "
        "changes are recorded by the chargers' SQL).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending it (until then).")
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    gave_up_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The partner's credentials ended before it was sent: never sent (given up at the same moment).",
    )
    last_error = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["partner", "key", "created_at"], name="roaming_outbox_key_order"),
            # The chargers' SQL asks whether a message of an object waits; the drain asks what is due. Both look
            # at unsent messages only, a small part of the table.
            models.Index(
                fields=["partner", "key", "method"],
                condition=models.Q(sent_at=None, gave_up_at=None),
                name="roaming_outbox_waiting",
            ),
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(sent_at=None, gave_up_at=None), name="roaming_outbox_due"
            ),
        ]

    def __str__(self):
        return f"{self.method} {self.key}"


class PartnerToken(models.Model):
    """A token of a partner eMSP, as we hold it as CPO: pushed by the eMSP (Receiver interface) or pulled from it,
    both through roaming.services.partner_tokens. It stands at our chargers as an OCPP tag of the partner's tag group,
    so the permission resolver decides where it may charge like for any tag; `whitelist` says whether the eMSP must
    be asked as well (real-time authorization)."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="tokens")
    country_code = CiCharField(max_length=2)
    party_id = CiCharField(max_length=3)
    uid = CiCharField(max_length=36)
    type = models.CharField(max_length=12, choices=TokenType.choices)
    contract_id = models.CharField(max_length=36)
    valid = models.BooleanField()
    whitelist = models.CharField(max_length=16, choices=WhitelistType.choices)
    data = models.JSONField(help_text="The token as the eMSP sent it.")
    last_updated = models.DateTimeField(help_text="The eMSP's last_updated of the token.")
    received_at = models.DateTimeField(auto_now=True)
    ocpp_tag = models.OneToOneField(
        OcppTag,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner_token",
        help_text="The OCPP tag it is presented as at our chargers (its uid, or a short stand-in when the uid is "
        "longer than OCPP's 20 characters).",
    )
    problem = models.CharField(max_length=200, blank=True, help_text="Why it cannot be used at our chargers.")
    last_authorization = models.JSONField(
        null=True,
        blank=True,
        help_text="The eMSP's last real-time ALLOWED: charge_box (pk), at (ISO), reference (its "
        "authorization_reference), which the session that follows carries.",
    )

    class Meta:
        ordering = ["country_code", "party_id", "uid"]
        constraints = [
            ci_unique(
                "partner",
                "country_code",
                "party_id",
                "uid",
                "type",
                name="roaming_partner_token_unique_ci",
                ci=("country_code", "party_id", "uid"),
                what="This token",
            ),
        ]

    def __str__(self):
        return f"{self.country_code}*{self.party_id} {self.uid} ({self.type})"


class Tariff(models.Model):
    """A tariff we publish as CPO. Its elements (price components and restrictions) are kept in OCPI's own form,
    checked against the field rules when saved. Every save records a TariffVersion: a session is priced by the
    version in force when it started, so changing a tariff never changes what a past session cost."""

    identity = models.ForeignKey(OcpiIdentity, on_delete=models.PROTECT, related_name="tariffs")
    ocpi_id = CiCharField("OCPI id", max_length=36, help_text="Unique among the identity's tariffs.")
    currency = models.CharField(max_length=3, validators=[RegexValidator(r"^[A-Z]{3}$", "ISO 4217, e.g. EUR.")])
    type = models.CharField(max_length=20, blank=True, help_text="AD_HOC_PAYMENT, PROFILE_CHEAP, ..., or blank.")
    alt_text = models.JSONField(
        default=list, blank=True, help_text='What it costs in words: [{"language": "en", "text": "..."}].'
    )
    alt_url = models.URLField(blank=True, max_length=255)
    min_price = models.JSONField(null=True, blank=True, help_text='{"excl_vat": 0.5, "incl_vat": 0.6}')
    max_price = models.JSONField(null=True, blank=True)
    elements = models.JSONField(help_text="OCPI tariff elements: price_components and optional restrictions.")
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ocpi_id"]
        constraints = [
            ci_unique("identity", "ocpi_id", name="roaming_tariff_unique_id_ci", ci=("ocpi_id",), what="A tariff")
        ]

    def __str__(self):
        return f"{self.ocpi_id} ({self.currency})"


class TariffVersion(models.Model):
    """A tariff as it was published from `valid_from` on: the OCPI object, never changed afterwards."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="versions")
    valid_from = models.DateTimeField(db_index=True)
    data = models.JSONField()

    class Meta:
        ordering = ["tariff", "-valid_from", "-pk"]

    def __str__(self):
        return f"{self.tariff} from {self.valid_from:%Y-%m-%d %H:%M:%S}"


class Cdr(models.Model):
    """A charge detail record we issued as CPO for a roaming session: made once when the session ended, priced by
    the tariff version in force when it started, and never changed (OCPI sends corrections as new CDRs)."""

    partner = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="cdrs", help_text="The session's eMSP.")
    transaction = models.OneToOneField("ocpp_core.Transaction", on_delete=models.PROTECT, related_name="ocpi_cdr")
    ocpi_id = models.CharField("OCPI id", max_length=39, unique=True)
    data = models.JSONField(help_text="The CDR as sent.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "CDR"

    def __str__(self):
        return self.ocpi_id


class PartnerObject(models.Model):
    """A partner CPO's session, CDR, tariff or active charging profile, or a hub's ClientInfo, as we hold it as
    eMSP: pushed to our Receiver interface or pulled from its Sender interface (sessions, CDRs and tariffs through
    roaming.services.partner_objects). Like PartnerLocation, the object is kept as sent (checked against the field
    rules); the columns are what we look it up and order it by."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="held_objects")
    module = models.CharField(max_length=20, help_text="sessions, cdrs, tariffs, hubclientinfo or chargingprofiles")
    country_code = CiCharField(max_length=2)
    party_id = CiCharField(max_length=3)
    ocpi_id = CiCharField("OCPI id", max_length=39)
    data = models.JSONField()
    last_updated = models.DateTimeField(help_text="The CPO's last_updated of the object.")
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["module", "country_code", "party_id", "ocpi_id"]
        constraints = [
            ci_unique(
                "partner",
                "module",
                "country_code",
                "party_id",
                "ocpi_id",
                name="roaming_partner_object_unique_ci",
                ci=("country_code", "party_id", "ocpi_id"),
                what="This object",
            ),
        ]

    def __str__(self):
        return f"{self.module} {self.country_code}*{self.party_id} {self.ocpi_id}"


class ReceivedCommand(models.Model):
    """A command a partner eMSP sent us as CPO (start or stop a session, reserve, cancel, unlock), carried out as an
    OCPP operation by a Celery worker; its result goes to the eMSP's response_url through the outbox."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="received_commands")
    command = models.CharField(max_length=20, choices=CommandType.choices)
    data = models.JSONField(help_text="The command as the eMSP sent it.")
    response = models.CharField(
        max_length=16, choices=CommandResponseType.choices, help_text="What we answered at once."
    )
    result = models.CharField(max_length=20, choices=CommandResultType.choices, blank=True)
    message = models.CharField(max_length=512, blank=True, help_text="Why, in words (sent with the result).")
    operation_task = models.ForeignKey(
        "ocpp_core.OperationTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reservation = models.ForeignKey(
        "ocpp_core.Reservation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="RESERVE_NOW: the reservation made (CANCEL_RESERVATION finds it by the eMSP's reservation_id).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="A worker took it up (it runs once).")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.command} from {self.partner_id} ({self.result or self.response})"


class SentCommand(models.Model):
    """A command we sent a partner CPO as eMSP. The CPO answers at once (response) and later posts the result to the
    response_url we gave, which names this row."""

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="sent_commands")
    command = models.CharField(max_length=20, choices=CommandType.choices)
    data = models.JSONField(help_text="The command as sent.")
    response = models.JSONField(null=True, blank=True, help_text="The CPO's CommandResponse.")
    result = models.JSONField(null=True, blank=True, help_text="The CommandResult posted to our response_url.")
    created_at = models.DateTimeField(auto_now_add=True)
    result_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.command} to {self.partner_id}"


class SentChargingProfile(models.Model):
    """A charging profile request we sent a partner CPO as eMSP (set, read or clear the profile of one of our
    customers' sessions). The CPO answers at once (response) and posts the result to the response_url we gave,
    which names this row."""

    class Action(models.TextChoices):
        SET = "SET", "set the profile"
        GET = "GET", "read the active profile"
        CLEAR = "CLEAR", "clear the profile"

    partner = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="sent_charging_profiles")
    session_id = models.CharField(max_length=36)
    action = models.CharField(max_length=5, choices=Action.choices)
    data = models.JSONField(help_text="The profile sent (SET), or the query (GET, CLEAR).")
    response = models.JSONField(null=True, blank=True, help_text="The CPO's ChargingProfileResponse.")
    result = models.JSONField(null=True, blank=True, help_text="The result posted to our response_url.")
    created_at = models.DateTimeField(auto_now_add=True)
    result_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.action} profile of session {self.session_id}"
