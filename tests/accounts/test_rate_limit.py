"""600 requests per minute per account (settings.API_RATE_LIMIT), counted in the cache with django-ratelimit."""

import time
from types import SimpleNamespace

import pytest
from django.test import override_settings
from django_ratelimit.core import get_usage

from powerfill.api.throttling import GROUP, _client_key

from ..api.crud import assert_api_error


def wait_for_a_fresh_window(account, rate: str, needed_seconds: int = 20) -> None:
    """django-ratelimit counts in fixed windows; start the burst where it cannot straddle a window boundary."""
    caller = SimpleNamespace(user=SimpleNamespace(account=account), META={}, method="GET")
    usage = get_usage(caller, group=GROUP, key=_client_key, rate=rate, increment=False)
    if usage["time_left"] < needed_seconds:
        time.sleep(usage["time_left"] + 1)


@pytest.mark.django_db
def test_the_601st_request_in_a_minute_is_refused(api, other_api, account):
    wait_for_a_fresh_window(account, "600/m")
    remaining = [int(api.get("/api/v1/sites")["X-Rate-Limit-Remaining"]) for _ in range(600)]
    assert remaining == list(range(599, -1, -1))

    refused = api.get("/api/v1/sites")
    body = assert_api_error(refused, 429)
    assert body["error"] == "Too Many Requests"
    seconds = int(refused["X-Rate-Limit-Retry-After-Seconds"])
    assert 0 < seconds <= 60
    assert refused["Retry-After"] == str(seconds)
    assert refused["X-Rate-Limit-Remaining"] == "0"

    # Another account has its own budget.
    assert other_api.get("/api/v1/sites").status_code == 200


@pytest.mark.django_db
@override_settings(API_RATE_LIMIT="3/m")
def test_the_limit_is_a_setting_and_writes_count_too(api, account):
    wait_for_a_fresh_window(account, "3/m")
    assert api.post("/api/v1/ocppTagGroups", {"name": "a"}, format="json").status_code == 201
    assert api.get("/api/v1/ocppTagGroups").status_code == 200
    assert api.delete("/api/v1/ocppTagGroups/999").status_code == 404
    refused = api.post("/api/v1/ocppTagGroups", {"name": "b"}, format="json")
    assert refused.status_code == 429
    assert not account.ocpp_tag_groups.filter(name="b").exists()


@pytest.mark.django_db
def test_every_api_response_carries_the_remaining_count(api, client):
    assert "X-Rate-Limit-Remaining" in api.get("/api/v1/sites")
    assert "X-Rate-Limit-Remaining" in client.get("/api/v1/sites")  # 401, counted per client address
    assert "X-Rate-Limit-Remaining" in api.get("/api/v1/nothingHere")
