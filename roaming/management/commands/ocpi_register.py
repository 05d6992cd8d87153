from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from roaming.choices import OcpiRole
from roaming.protocol import OcpiError
from roaming.services.credentials import party_for_registration, party_register_with

from ._ocpi_setup import account_of, add_identity_arguments


class Command(BaseCommand):
    help = (
        "Register this platform with a roaming partner (the OCPI credentials handshake) from its versions URL and "
        "the token A it issued. Exits 0 once the handshake is complete, 1 with the reason otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--versions-url", required=True, help="The partner's versions endpoint.")
        parser.add_argument("--token", required=True, help="The token A the partner issued.")
        parser.add_argument("--name", default="", help="The partner's name in the admin (default: its host).")
        parser.add_argument(
            "--public-url",
            default=settings.OCPI_PUBLIC_URL,
            help="Our base URL as the partner reaches it, for our versions URL (OCPI_PUBLIC_URL).",
        )
        parser.add_argument(
            "--ocpi211-role",
            choices=[OcpiRole.CPO.value, OcpiRole.EMSP.value],
            default="",
            help="The role of a partner that speaks OCPI 2.1.1 only (we play the other).",
        )
        parser.add_argument("--plain-token", action="store_true", help="Send our token as it is, not base64-encoded.")
        add_identity_arguments(parser)

    def handle(self, *args, versions_url, token, name, public_url, ocpi211_role, plain_token, **options):
        base_url = public_url.rstrip("/")
        try:
            URLValidator(schemes=["http", "https"])(versions_url)
            if not base_url:
                raise ValidationError("Where does the partner reach us? Give --public-url or set OCPI_PUBLIC_URL.")
            URLValidator(schemes=["http", "https"])(base_url)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        account = account_of(options)
        name = name or versions_url.split("://", 1)[-1].split("/", 1)[0]
        try:
            party = party_for_registration(
                account=account,
                name=name,
                versions_url=versions_url,
                token_a=token,
                ocpi211_role=ocpi211_role,
                plain_token_header=plain_token,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        try:
            party_register_with(party=party, base_url=base_url)
        except OcpiError as error:
            raise CommandError(f"The registration with {name!r} failed: {error.message}") from error
        roles = ", ".join(str(role) for role in party.roles.all())
        self.stdout.write(f"Registered with {party.name!r} (OCPI {party.version}; {roles}).")
