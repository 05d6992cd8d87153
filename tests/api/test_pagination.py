"""Every list answers a plain array, or a page when ?page= or ?pageSize= is given (API.md §1)."""

import pytest

from ..factories import NodeFactory, OcppTagFactory, OcppTagGroupFactory, OcppTagPermissionFactory
from .crud import assert_api_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def lists(account):
    roots = [NodeFactory(account=account, name=f"Site {n}") for n in range(3)]
    tag = OcppTagFactory(account=account)
    for root in roots:
        OcppTagPermissionFactory(ocpp_tag=tag, node=root)
    group = OcppTagGroupFactory(account=account)
    group.ocpp_tags.set([OcppTagFactory(account=account) for _ in range(3)])
    return {
        "/api/v1/sites": 3,
        f"/api/v1/permissions/ocppTags/{tag.pk}": 3,
        f"/api/v1/ocppTagGroups/{group.pk}/ocppTags": 3,
        "/api/v1/ocppTags": 4,
    }


def test_lists_are_plain_arrays_unless_a_page_is_asked_for(api, lists):
    for url, count in lists.items():
        plain = api.get(url).json()
        assert isinstance(plain, list) and len(plain) == count, url
        page = api.get(url, {"pageSize": 2}).json()
        assert page["count"] == count and len(page["results"]) == 2 and page["next"], url
        last = api.get(url, {"pageSize": 2, "page": 2}).json()
        assert len(last["results"]) == count - 2 and last["next"] is None, url
        assert [*page["results"], *last["results"]] == plain, url


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": 0}, "page"),
        ({"pageSize": -1}, "pageSize"),
        ({"pageSize": 5000}, "pageSize"),
    ],
)
def test_a_page_that_is_not_a_positive_number_is_a_400(api, lists, query, field):
    assert_api_error(api.get("/api/v1/sites", query), 400, field)


def test_a_page_past_the_end_is_a_404(api, lists):
    assert_api_error(api.get("/api/v1/ocppTags", {"page": 9}), 404)
