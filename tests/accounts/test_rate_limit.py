"""600 requests in any minute per account (settings.API_RATE_LIMIT): a sliding log, in Redis or in the process."""

import threading
import time

import pytest
from django.conf import settings as django_settings
from hypothesis import given
from hypothesis import strategies as st

from powerfill.api.rate_limit import LocalSlidingLog, Rate, rate_parse

from ..api.crud import assert_api_error


def most_passed_within_a_window(passed: list[tuple[float, float]], window: float) -> int:
    """The largest number of consecutive passed calls (sent, answered) from one's sending to another's answer in
    less than `window` seconds: calls the server certainly let through within one window, whatever its clock."""
    most = 0
    for first, (sent, _) in enumerate(passed):
        within = [answered for _, answered in passed[first:] if answered - sent < window]
        most = max(most, len(within))
    return most


@pytest.mark.django_db
def test_the_default_budget_is_600_a_minute(api):
    assert django_settings.API_RATE_LIMIT == "600/m"
    response = api.get("/api/v1/sites")
    assert (response["X-Rate-Limit-Limit"], response["X-Rate-Limit-Remaining"]) == ("600", "599")


@pytest.mark.django_db
def test_the_601st_request_in_a_minute_is_refused(api, other_api):
    remaining = [int(api.get("/api/v1/sites")["X-Rate-Limit-Remaining"]) for _ in range(600)]
    assert remaining == list(range(599, -1, -1))

    refused = api.get("/api/v1/sites")
    body = assert_api_error(refused, 429)
    assert body["error"] == "Too Many Requests"
    seconds = int(refused["X-Rate-Limit-Retry-After-Seconds"])
    assert 1 <= seconds <= 60  # until the first of the 600 is a minute old
    assert refused["Retry-After"] == str(seconds)
    assert refused["X-Rate-Limit-Remaining"] == "0"

    # Another account has its own budget.
    assert other_api.get("/api/v1/sites").status_code == 200


@pytest.mark.django_db
def test_the_limit_is_a_setting_and_writes_count_too(api, account, settings):
    settings.API_RATE_LIMIT = "3/h"
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


@pytest.mark.django_db
def test_no_rolling_window_admits_more_than_the_limit(api, settings):
    """The window-edge scenario of tests/e2e/test_rate_limit_window_edge.py in one process: in Redis when REDIS_URL
    is set, in the process's own log otherwise (the quick start)."""
    limit, window = 20, 2
    settings.API_RATE_LIMIT = f"{limit}/{window}s"
    calls = []

    def spend_the_budget() -> tuple[int, int]:
        passed = 0
        while passed <= 3 * limit:
            sent = time.monotonic()
            response = api.get("/api/v1/sites")
            calls.append((sent, time.monotonic(), response.status_code))
            if response.status_code == 429:
                return passed, int(response["X-Rate-Limit-Retry-After-Seconds"])
            passed += 1
        raise AssertionError(f"{passed} calls in a row passed a limit of {limit}")

    passed, wait = spend_the_budget()
    time.sleep(wait + window / 2)
    budgets = [passed]
    passed, wait = spend_the_budget()
    budgets.append(passed)
    time.sleep(wait)
    budgets.append(spend_the_budget()[0])

    admitted = [(sent, answered) for sent, answered, status in calls if status == 200]
    assert budgets[0] == limit and budgets[1] > 0 and budgets[2] > 0
    assert most_passed_within_a_window(admitted, window) == limit


def test_rates_are_written_as_calls_per_period():
    assert rate_parse("600/m") == Rate(limit=600, window_seconds=60)
    assert rate_parse("50/10s") == Rate(limit=50, window_seconds=10)
    assert rate_parse("1000/h") == Rate(limit=1000, window_seconds=3600)
    for text in ("600", "0/m", "600/w", "m/600", "-1/s"):
        with pytest.raises(ValueError):
            rate_parse(text)


@given(
    limit=st.integers(1, 5),
    window=st.integers(1, 10),
    gaps=st.lists(st.floats(0, 4, allow_nan=False), min_size=1, max_size=60),
)
def test_the_log_lets_through_exactly_what_fits_in_every_window(limit, window, gaps):
    """At each call: it passes exactly when fewer than `limit` calls passed in the window before it; what remains
    and when the next call passes follow from those calls."""
    times = [sum(gaps[: index + 1]) for index in range(len(gaps))]
    clock = iter(times)
    log = LocalSlidingLog(clock=lambda: next(clock))
    rate = Rate(limit=limit, window_seconds=window)
    passed = []
    for now in times:
        decision = log.hit("key", rate)
        in_window = [t for t in passed if t > now - window]
        assert decision.allowed == (len(in_window) < limit)
        if decision.allowed:
            passed.append(now)
            in_window.append(now)
        assert decision.remaining == limit - len(in_window)
        expected_wait = 0 if len(in_window) < limit else in_window[-limit] + window - now
        assert decision.retry_after_seconds == pytest.approx(expected_wait)


def test_the_log_is_exact_under_concurrent_calls():
    log = LocalSlidingLog()
    rate = Rate(limit=500, window_seconds=3600)
    allowed = []

    def caller():
        for _ in range(200):
            allowed.append(log.hit("key", rate).allowed)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 500


def test_keys_idle_for_a_window_are_forgotten():
    now = [0.0]
    log = LocalSlidingLog(clock=lambda: now[0])
    rate = Rate(limit=2, window_seconds=10)
    for index in range(1000):
        log.hit(f"ip:10.0.{index // 256}.{index % 256}", rate)
    now[0] = 10.5
    log.hit("account:1", rate)
    assert list(log._logs) == ["account:1"]


def test_a_mistyped_rate_stops_the_system_check(settings):
    from powerfill.api.checks import rate_limit_check

    settings.API_RATE_LIMIT = "600 per minute"
    assert [error.id for error in rate_limit_check(None)] == ["powerfill.E001"]
    settings.API_RATE_LIMIT = "600/m"
    assert rate_limit_check(None) == []
