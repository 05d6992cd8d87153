"""`manage.py check --deploy` tells what makes a deployment unsafe or a single-process one, and is quiet about
each once it is set right."""

import pytest
from django.core.checks import run_checks

from roaming.models import Party

from ..factories import AccountFactory

pytestmark = pytest.mark.django_db


def deploy_check_ids(**kwargs) -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True, databases=["default"], **kwargs)}


def test_the_quick_starts_settings_are_refused_for_a_deployment(settings):
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    settings.REDIS_URL = None
    Party.objects.create(account=AccountFactory(), name="A partner")
    settings.OCPI_PUBLIC_URL = ""

    found = deploy_check_ids()

    assert {"powerfill.E001", "powerfill.W003", "roaming.W001"} <= found
    assert ("powerfill.W002" in found) == (settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"))


def test_a_deployments_settings_pass(settings):
    settings.SECRET_KEY = "a-long-random-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    settings.REDIS_URL = "redis://redis:6379/0"
    settings.OCPI_PUBLIC_URL = "https://cpms.example.com"
    Party.objects.create(account=AccountFactory(), name="A partner")

    found = deploy_check_ids()

    assert not {"powerfill.E001", "powerfill.W003", "roaming.W001"} & found


def test_no_partner_needs_no_public_url(settings):
    settings.OCPI_PUBLIC_URL = ""
    assert "roaming.W001" not in deploy_check_ids()
