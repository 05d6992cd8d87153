import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from powerfill.accounts.services import api_token_create

from .factories import AccountFactory


def pytest_sessionfinish(session):
    """The SQLite test database is a file of this run in the temp dir (powerfill/settings/test.py). Destroying it
    removes that file, not the -wal and -shm files SQLite keeps beside it while connections are open, which server
    processes that were terminated leave behind."""
    from django.conf import settings

    if not settings.configured or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        return
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if not name or Path(name).exists():  # not created, or kept (--reuse-db)
        return
    for suffix in ("-wal", "-shm"):
        Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(autouse=True, scope="session")
def _ocpp_db_threads_closed(django_db_setup, django_db_blocker):
    """ocpp_db's threads keep a connection each; closed before the test database is dropped."""
    yield
    from ocpp_core.db import ocpp_db_threads_close

    with django_db_blocker.unblock():
        ocpp_db_threads_close()


@pytest.fixture(autouse=True, scope="session")
def _flush_outlasts_late_server_writes():
    """A transactional test ends with a TRUNCATE of every table, while the live server may still be writing what a
    charger's disconnect leaves (its last frames, its offline state): on PostgreSQL the two can deadlock, and the
    flush, when PostgreSQL picks it as the victim, fails and leaves the data to the next test. It is tried again
    (the server's write, if it was the victim instead, simply fails against a table that is being emptied)."""
    from django.core.management.base import CommandError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def fixture_teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except CommandError as error:
                if attempt == 4 or "deadlock detected" not in str(error.__cause__):
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = original


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache and unspent rate limits (kept in Redis, which clearing the cache
    empties, or in the process's limiter, made anew)."""
    from django.core.cache import cache

    from powerfill.api.throttling import rate_limiter

    cache.clear()
    rate_limiter.cache_clear()
    yield


@pytest.fixture
def account(db):
    return AccountFactory(name="Acme Charging")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Rival Charging")


def token_client(account) -> APIClient:
    _, key = api_token_create(account=account, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(account) -> APIClient:
    """An API client acting for `account`."""
    return token_client(account)


@pytest.fixture
def other_api(other_account) -> APIClient:
    return token_client(other_account)
