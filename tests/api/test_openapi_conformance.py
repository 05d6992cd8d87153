"""The OpenAPI document says what the API answers, and the API refuses what the document forbids.

schemathesis reads the document /api/schema/ serves and, for every operation, sends requests generated from it
(valid ones, and ones that break one rule of the document) through the WSGI application, checking every answer with
its default checks: no server error, a status, content type, headers and body the document declares for it,
schema-violating requests refused, schema-valid ones accepted. The cases are the same on every run (derandomized),
a bounded number per operation.

One change to the defaults, and why: a valid request may still name an object that does not exist, or break a rule
that involves several fields or the stored data (a tag's expiry lies in the past, a name is taken); the document can
say neither, and the API answers 400 naming the field. Such a 400 is accepted for a valid request only when every
field it names is one of RULES_THE_DOCUMENT_CANNOT_STATE; any other field named shows a value the document promised
to take.

Each operation runs against a small account (a site, a charge box with connectors, tags, a user, a group, a
permission, a running and a stopped transaction), created with the same primary keys on every backend, so that the
ids schemathesis tries first (1, 2) reach existing objects as well as missing ones.
"""

import json

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from powerfill.accounts.services import api_token_create

from ..factories import (
    AccountFactory,
    ChargeBoxFactory,
    ConnectorFactory,
    NodeFactory,
    OcppTagFactory,
    OcppTagGroupFactory,
    OcppTagPermissionFactory,
    TransactionFactory,
    UserFactory,
)


def _served_document() -> dict:
    """The document /api/schema/ serves (built without a request: serving it would need the database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


schema = schemathesis.openapi.from_dict(_served_document())
schema.app = get_wsgi_application()

# Fields whose 400s are about stored data or several fields together, which a JSON schema cannot express.
RULES_THE_DOCUMENT_CANNOT_STATE = {
    "nonFieldErrors",  # the object's state (a stopped transaction, a charge box with sessions), exactly one of ...
    "chargeBoxIdList",  # charge boxes of the account, by identity
    "chargeBoxId",  # unique among charge boxes
    "chargeBoxIds",
    "nodeId",
    "parentId",  # an existing node, not below the node itself
    "ocppTagPk",
    "ocppTagPks",
    "ocppTagGroupPk",
    "userPk",
    "parentIdTag",
    "idTag",  # unique in the account
    "name",  # unique among siblings
    "chargingProfilePk",  # an existing profile; required by some filterTypes
    "expiryDate",  # in the future
    "expiry",
    "to",  # after from
    "minCurrentA",  # at most maxCurrentA
    "confKey",  # ChangeConfiguration: required for keyType PREDEFINED
    "customConfKey",  # ... and for CUSTOM
    "value",  # ... a charger password when the key is AuthorizationKey
}

EXAMPLES_PER_OPERATION = 10


def _rejected_only_for_rules_the_document_cannot_state(ctx, response, case):
    """positive_data_acceptance, except for a 400 whose every named field is in RULES_THE_DOCUMENT_CANNOT_STATE."""
    if response.status_code == 400:
        named = set(response.json().get("fieldErrors", {}))
        if named and all(name.split(".")[0].split("[")[0] in RULES_THE_DOCUMENT_CANNOT_STATE for name in named):
            return None
    return positive_data_acceptance(ctx, response, case)


CASES_SENT: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    print(f"\nschemathesis: {len(CASES_SENT)} operations, {sum(CASES_SENT.values())} cases")


@pytest.fixture
def headers(settings):
    """An account with one of each object, and its API token."""
    settings.API_RATE_LIMIT = "1000000/m"  # the run sends thousands of requests
    account = AccountFactory(name="Conformance")
    root = NodeFactory(account=account, name="Site")
    floor = NodeFactory(account=account, parent=root, name="Floor 1")
    charge_box = ChargeBoxFactory(account=account, node=floor, charge_box_id="CB-1")
    for connector_id in (1, 2):
        ConnectorFactory(charge_box=charge_box, connector_id=connector_id)
    holder = UserFactory(account=account)
    tag = OcppTagFactory(account=account, id_tag="TAG-1", user=holder)
    OcppTagFactory(account=account, id_tag="TAG-2", parent=tag)
    OcppTagGroupFactory(account=account, name="Residents", ocpp_tags=[tag])
    OcppTagPermissionFactory(ocpp_tag=tag, node=root, applies_to_all_children=True)
    TransactionFactory(charge_box=charge_box, ocpp_tag=tag, meter_start=1000)
    TransactionFactory(
        charge_box=charge_box,
        connector_id=2,
        ocpp_tag=tag,
        stopped_at=timezone.now(),
        meter_stop=4000,
        stop_reason="Local",
    )
    _, key = api_token_create(account=account)
    return {"Authorization": f"Token {key}"}


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same cases on every run: CI fails for a change, not for a draw
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_every_operation_answers_as_documented(case, headers):
    CASES_SENT[case.operation.label] = CASES_SENT.get(case.operation.label, 0) + 1
    case.call_and_validate(
        headers=headers,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[_rejected_only_for_rules_the_document_cannot_state],
    )


@pytest.mark.django_db
def test_the_document_tested_is_the_document_served(api):
    assert api.get("/api/schema/", {"format": "json"}).json() == _served_document()
