"""factory-boy factories shared by every test module."""
from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.contrib.auth import get_user_model

from permissions.models import Role
from relationships.identity import id_check_digit
from relationships.models import Organisation, Qualification, Region, Staff

_serial = itertools.count(1)


def make_id_number(birth: dt.date = dt.date(1985, 6, 15), area: str = "110105", seq: int | None = None) -> str:
    """A valid GB 11643 number; `seq` (0–999) makes it unique."""
    seq = next(_serial) % 1000 if seq is None else seq
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n}")
    name = factory.LazyAttribute(lambda o: f"区域{o.code}")


class HQFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    code = "HQ"
    name = "总部"
    kind = "hq"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.LazyAttribute(lambda o: f"分公司{o.code}")
    kind = "branch"
    parent = factory.SubFactory(HQFactory)
    region = factory.SubFactory(RegionFactory)

    @factory.post_generation
    def _self_branch(obj, create, extracted, **kwargs):
        if create and obj.branch_id != obj.pk:
            obj.branch = obj
            obj.save(update_fields=["branch"])


class OutletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    code = factory.Sequence(lambda n: f"O{n:04d}")
    name = factory.LazyAttribute(lambda o: f"营业部{o.code}")
    kind = "outlet"
    parent = factory.SubFactory(BranchFactory)
    branch = factory.SelfAttribute("parent")
    region = factory.SelfAttribute("parent.region")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw-12345678")
        if create:
            obj.save(update_fields=["password"])


class StaffFactory(factory.django.DjangoModelFactory):
    """Front staff with open attach permission and every qualification, valid from 2000."""

    class Meta:
        model = Staff
        skip_postgeneration_save = True

    staff_no = factory.Sequence(lambda n: f"S{n:05d}")
    name = factory.Sequence(lambda n: f"员工{n}")
    outlet = factory.SubFactory(OutletFactory)
    kind = "account_manager"
    attach_open = True
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..staff_no"))

    @factory.post_generation
    def qualifications(obj, create, extracted, **kwargs):
        if not create:
            return
        kinds = extracted if extracted is not None else ["securities", "futures", "consulting", "broker"]
        Qualification.objects.bulk_create(Qualification(staff=obj, kind=k, number=f"Q-{obj.staff_no}-{k}")
                                          for k in kinds)


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    user = factory.SubFactory(UserFactory)
    kind = "branch"
    organisation = factory.SubFactory(BranchFactory)
