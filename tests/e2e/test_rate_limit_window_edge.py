"""The limit holds in every rolling window, across a window edge and across two server processes on one Redis.

A fixed window lets `limit` calls through at the end of one window and `limit` more at the start of the next, so
twice the limit passes within a short stretch. Here a client spends the budget, waits as long as the refusal's
`X-Rate-Limit-Retry-After-Seconds` says, waits half a window more, spends it again, waits as told and spends it a
third time, calling the two servers in turn.

What each passed call proves, without trusting any clock to agree with the server's to the millisecond: the server
admitted it somewhere between the moment the client sent it and the moment the answer came back. So a run of
passed calls from the sending of the first to the answer of the last shorter than the window certainly passed
within one window, and must number at most `limit`.
"""

import time

import pytest

from powerfill.accounts.services import api_token_create

from ..accounts.test_rate_limit import most_passed_within_a_window
from ..factories import AccountFactory
from ..live import asgi_server
from .conftest import http_request

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]

LIMIT = 40
WINDOW_SECONDS = 4


def test_no_rolling_window_admits_more_than_the_limit(redis_url):
    account = AccountFactory(name="Edge")
    _, key = api_token_create(account=account)
    headers = {"Authorization": f"Token {key}"}
    env = {"REDIS_URL": redis_url, "API_RATE_LIMIT": f"{LIMIT}/{WINDOW_SECONDS}s"}
    calls = []  # (sent, answered, status)
    with asgi_server(env=env) as first, asgi_server(env=env) as second:
        servers = (first, second)

        def spend_the_budget() -> tuple[int, int]:
            """Call until refused; (calls passed, the refusal's seconds to wait)."""
            passed = 0
            while passed <= 3 * LIMIT:  # bounded: a limit that never refuses fails the test below
                sent = time.monotonic()
                status, response_headers, _ = http_request(servers[len(calls) % 2], "GET", "/api/v1/sites", headers)
                calls.append((sent, time.monotonic(), status))
                if status == 429:
                    return passed, int(response_headers["x-rate-limit-retry-after-seconds"])
                assert status == 200
                passed += 1
            raise AssertionError(f"{passed} calls in a row passed a limit of {LIMIT}")

        budgets = []
        passed, wait = spend_the_budget()
        budgets.append(passed)
        time.sleep(wait + WINDOW_SECONDS / 2)
        passed, wait = spend_the_budget()
        budgets.append(passed)
        time.sleep(wait)
        passed, _ = spend_the_budget()
        budgets.append(passed)

    admitted = [(sent, answered) for sent, answered, status in calls if status == 200]
    most = most_passed_within_a_window(admitted, WINDOW_SECONDS)
    print(f"calls {len(calls)}, passed per burst {budgets}, most passed within {WINDOW_SECONDS}s: {most}")
    # After waiting as long as the refusal said, calls pass again; a burst fits well inside the window.
    assert budgets[1] > 0 and budgets[2] > 0
    assert most == LIMIT
