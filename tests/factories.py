"""factory-boy factories. Nodes go through mptt's own insert, so trees built here are consistent."""

import factory
from django.utils import timezone

from ocpp_core.models import ChargeBox, Connector, OcppTag, OcppTagGroup, Transaction, User
from permissions.models import OcppTagGroupPermission, OcppTagPermission
from powerfill.accounts.models import Account, OperatorUser
from sites.models import Node


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Operator {n}")


class OperatorUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OperatorUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"operator{n}")
    account = factory.SubFactory(AccountFactory)
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class NodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Node

    account = factory.LazyAttribute(lambda node: node.parent.account if node.parent else AccountFactory())
    name = factory.Sequence(lambda n: f"Node {n}")
    parent = None


class ChargeBoxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChargeBox

    account = factory.LazyAttribute(lambda box: box.node.account if box.node else AccountFactory())
    charge_box_id = factory.Sequence(lambda n: f"CB-{n:04d}")
    node = None


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")


class OcppTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTag

    account = factory.SubFactory(AccountFactory)
    id_tag = factory.Sequence(lambda n: f"TAG{n:05d}")


class OcppTagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagGroup
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Group {n}")

    @factory.post_generation
    def ocpp_tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.ocpp_tags.add(*extracted)


class OcppTagPermissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagPermission

    ocpp_tag = factory.SubFactory(OcppTagFactory)
    node = factory.SubFactory(NodeFactory, account=factory.SelfAttribute("..ocpp_tag.account"))
    applies_to_all_children = False


class OcppTagGroupPermissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OcppTagGroupPermission

    ocpp_tag_group = factory.SubFactory(OcppTagGroupFactory)
    node = factory.SubFactory(NodeFactory, account=factory.SelfAttribute("..ocpp_tag_group.account"))
    applies_to_all_children = False


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    charge_box = factory.SubFactory(ChargeBoxFactory)
    connector_id = 1
    ocpp_tag = factory.SubFactory(OcppTagFactory, account=factory.SelfAttribute("..charge_box.account"))
    id_tag = factory.LazyAttribute(lambda tx: tx.ocpp_tag.id_tag if tx.ocpp_tag else "UNKNOWN")
    started_at = factory.LazyFunction(timezone.now)
    meter_start = 1000
