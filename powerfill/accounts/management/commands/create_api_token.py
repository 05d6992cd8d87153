from django.core.management.base import BaseCommand

from powerfill.accounts.services import account_get_or_create, api_token_create


class Command(BaseCommand):
    help = "Create an API token for an account (creating the account if needed). The token is the last line."

    def add_arguments(self, parser):
        parser.add_argument("account_name")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args, account_name, name, **options):
        account, created = account_get_or_create(name=account_name)
        _, key = api_token_create(account=account, name=name)
        if created:
            self.stderr.write(f"Created account {account.name!r}.")
        self.stderr.write(f"API token for account {account.name!r} (shown once; use 'Authorization: Token <key>'):")
        self.stdout.write(key)
