"""600 requests per minute per account (settings.API_RATE_LIMIT), counted in the cache with django-ratelimit."""

import math
import time
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django_ratelimit.core import get_usage

from powerfill.api.throttling import GROUP, _client_key

from ..api.crud import assert_api_error


def rate_with_room(account, limit: int, needed_seconds: int) -> tuple[str, int]:
    """A rate of `limit` calls per window of one or more hours whose current window for `account` has at least
    `needed_seconds` left, and those seconds.

    django-ratelimit counts in fixed windows, each key's windows ending at their own offset. The rate is chosen from
    the window django-ratelimit computes for this account now, so a burst of `limit` calls within `needed_seconds`
    cannot straddle a window boundary, and nothing waits for a fresh window.
    """
    caller = SimpleNamespace(user=SimpleNamespace(account=account), META={}, method="GET")
    for hours in range(1, 25):
        rate = f"{limit}/{hours}h"
        usage = get_usage(caller, group=GROUP, key=_client_key, rate=rate, increment=False)
        assert usage["count"] == 0, "the window to test in must start unused"
        if usage["time_left"] >= needed_seconds:
            return rate, usage["time_left"]
    raise AssertionError(f"no window of 1 to 24 hours has {needed_seconds}s left for {account}")


@pytest.mark.django_db
def test_the_default_budget_is_600_a_minute(api):
    assert django_settings.API_RATE_LIMIT == "600/m"
    response = api.get("/api/v1/sites")
    assert (response["X-Rate-Limit-Limit"], response["X-Rate-Limit-Remaining"]) == ("600", "599")


@pytest.mark.django_db
def test_the_601st_request_in_a_window_is_refused(api, other_api, account, settings):
    settings.API_RATE_LIMIT, seconds_left = rate_with_room(account, 600, needed_seconds=300)
    started = time.monotonic()
    remaining = [int(api.get("/api/v1/sites")["X-Rate-Limit-Remaining"]) for _ in range(600)]
    assert remaining == list(range(599, -1, -1))

    refused = api.get("/api/v1/sites")
    elapsed = math.ceil(time.monotonic() - started)
    body = assert_api_error(refused, 429)
    assert body["error"] == "Too Many Requests"
    seconds = int(refused["X-Rate-Limit-Retry-After-Seconds"])
    assert seconds_left - elapsed - 1 <= seconds <= seconds_left  # what is left of this window
    assert refused["Retry-After"] == str(seconds)
    assert refused["X-Rate-Limit-Remaining"] == "0"

    # Another account has its own budget.
    assert other_api.get("/api/v1/sites").status_code == 200


@pytest.mark.django_db
def test_the_limit_is_a_setting_and_writes_count_too(api, account, settings):
    settings.API_RATE_LIMIT, _ = rate_with_room(account, 3, needed_seconds=60)
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
