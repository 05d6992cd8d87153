from django.core.management.base import BaseCommand

from powerfill.demo import DEMO_ACCOUNT, demo_load


class Command(BaseCommand):
    help = "Load the demo site, charge boxes, tags, group and permissions; print the logins and an API token."

    def handle(self, *args, **options):
        demo = demo_load()
        self.stdout.write(
            f"""
Demo data loaded for account {DEMO_ACCOUNT!r}.

  Admin (all accounts):     http://localhost:8000/admin/  {demo.admin_username} / {demo.admin_password}
  Operator (demo account):  http://localhost:8000/admin/  {demo.operator_username} / {demo.operator_password}
  API docs:                 http://localhost:8000/api/docs/
  API token:                {demo.api_token}

  curl -H "Authorization: Token {demo.api_token}" http://localhost:8000/api/v1/sites
"""
        )
