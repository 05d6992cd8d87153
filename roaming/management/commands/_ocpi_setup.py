"""What ocpi_token_a and ocpi_register share: the account and OCPI identity they act for, from options or settings."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from roaming.services.credentials import account_ocpi_identity_ensure


def add_identity_arguments(parser) -> None:
    parser.add_argument(
        "--account", default=settings.OCPI_ACCOUNT_NAME, help="The account (created if needed; OCPI_ACCOUNT_NAME)."
    )
    parser.add_argument(
        "--country-code",
        default=settings.OCPI_COUNTRY_CODE,
        help="The account's OCPI country code where it has no identity yet (OCPI_COUNTRY_CODE).",
    )
    parser.add_argument(
        "--party-id",
        default=settings.OCPI_PARTY_ID,
        help="The account's OCPI party id where it has no identity yet (OCPI_PARTY_ID).",
    )
    parser.add_argument(
        "--business-name",
        default=settings.OCPI_BUSINESS_NAME,
        help="The business name partners show, where the account has no identity yet (OCPI_BUSINESS_NAME; default "
        "the account's name).",
    )


def account_of(options: dict):
    try:
        return account_ocpi_identity_ensure(
            account_name=options["account"],
            country_code=options["country_code"],
            party_id=options["party_id"],
            business_name=options["business_name"],
        )
    except ValidationError as error:
        raise CommandError(f"The account's OCPI identity: {'; '.join(error.messages)}") from error
