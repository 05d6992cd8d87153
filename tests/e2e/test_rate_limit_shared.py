"""Two server processes on one Redis share each account's count: the 601st request is refused on either."""

import pytest

from powerfill.accounts.services import api_token_create

from ..factories import AccountFactory
from ..live import asgi_server
from .conftest import http_request

pytestmark = [pytest.mark.live_server, pytest.mark.django_db(transaction=True)]


def test_two_processes_share_the_count(redis_url):
    account = AccountFactory(name="Shared limit")
    _, key = api_token_create(account=account)
    headers = {"Authorization": f"Token {key}"}
    # 600 calls in any hour: starting both servers and the 602 calls take far less.
    env = {"REDIS_URL": redis_url, "API_RATE_LIMIT": "600/h"}
    with asgi_server(env=env) as first, asgi_server(env=env) as second:
        remaining = []
        for index in range(600):
            status, response_headers, _ = http_request((first, second)[index % 2], "GET", "/api/v1/sites", headers)
            assert status == 200
            remaining.append(int(response_headers["x-rate-limit-remaining"]))
        assert remaining == list(range(599, -1, -1))
        for server in (first, second):
            status, response_headers, _ = http_request(server, "GET", "/api/v1/sites", headers)
            assert status == 429
            seconds = int(response_headers["x-rate-limit-retry-after-seconds"])
            assert 0 < seconds <= 3600
            assert response_headers["retry-after"] == str(seconds)
            assert response_headers["x-rate-limit-remaining"] == "0"
