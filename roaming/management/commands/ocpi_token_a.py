from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from roaming.services.credentials import party_token_a_issue

from ._ocpi_setup import account_of, add_identity_arguments


class Command(BaseCommand):
    help = (
        "Issue a token A with which a roaming partner registers at our /ocpi/versions (the partner is created if "
        "needed; one not registered gets a fresh token). The token is the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("party_name", help="The partner's name in the admin.")
        add_identity_arguments(parser)

    def handle(self, *args, party_name, **options):
        account = account_of(options)
        try:
            party = party_token_a_issue(account=account, name=party_name)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        versions_url = f"{settings.OCPI_PUBLIC_URL}/ocpi/versions" if settings.OCPI_PUBLIC_URL else "/ocpi/versions"
        self.stderr.write(
            f"Token A for {party.name!r} of account {account.name!r}: hand it over with our versions URL "
            f"({versions_url}); the partner registers with it once."
        )
        self.stdout.write(party.incoming_token)
