"""factory-boy factories shared by every test module.

The organisation ones write rows directly; the domain ones (customers, account events, reservations,
relationships with shares, approval cases) go through the product's own services, so every invariant and audit
row a rule test relies on is there, without a CSV feed in between (feeds only where the feed is what is tested).
"""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from approvals.models import ApprovalCase, CaseReason
from approvals.services import case_open
from permissions.models import Role
from relationships.feeds.account_events import NewAccountEvent, account_events_record
from relationships.identity import id_check_digit
from relationships.models import (
    AccountEvent,
    Customer,
    Organisation,
    Qualification,
    Region,
    Relationship,
    RelationshipType,
    Staff,
)
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.models import Reservation
from reservations.services import ReservationInput, reservation_register

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


# --- the domain, through its services -----------------------------------------------------------------------

class CustomerFactory(factory.Factory):
    """A customer as the product keys him: by the keyed hash of his ID number (R-PII-1)."""

    class Meta:
        model = Customer

    id_number = factory.LazyFunction(lambda: make_id_number(seq=next(_serial) % 1000))
    name = factory.Sequence(lambda n: f"客户{n}")
    phone = "13812345678"

    @classmethod
    def _create(cls, model_class, *, id_number, name, phone):
        return customer_get_or_create(id_number=id_number, name=name, phone=phone)

    @classmethod
    def _build(cls, model_class, **kwargs):
        raise TypeError("a customer exists only through customer_get_or_create")


_event_serial = itertools.count(1)


class AccountEventFactory(factory.Factory):
    """An account event of the core system, recorded by the same service the account_events feed calls."""

    class Meta:
        model = AccountEvent

    event_id = factory.LazyFunction(lambda: f"FE{next(_event_serial):08d}")
    event_time = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    kind = "open"
    id_number = factory.LazyFunction(lambda: make_id_number(seq=next(_serial) % 1000))
    customer_name = "张三"
    account_no = factory.LazyFunction(lambda: f"FA{next(_event_serial):010d}")
    account_type = "securities"
    outlet = factory.SubFactory(OutletFactory)

    @classmethod
    def _create(cls, model_class, *, outlet, **fields):
        (event,) = account_events_record(events=[NewAccountEvent(line=0, outlet_id=outlet.pk,
                                                                 outlet_code=outlet.code, **fields)])
        return event


class ReservationFactory(factory.Factory):
    """A reservation registered through `reservation_register`; `participants` are (staff, ratio) pairs."""

    class Meta:
        model = Reservation

    staff = factory.SubFactory(StaffFactory)
    type_code = "NEW_DEV"
    customer_name = "张三"
    id_number = factory.LazyFunction(lambda: make_id_number(seq=next(_serial) % 1000))
    phone = "13812345678"
    participants = None
    registered_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 2, 9, 0,
                                                             tzinfo=dt.timezone(dt.timedelta(hours=8))))

    @classmethod
    def _create(cls, model_class, *, staff, **fields):
        return reservation_register(actor=staff.user, data=ReservationInput(staff=staff, **fields))


class RelationshipFactory(factory.Factory):
    """A relationship with its shares through `relationship_create` (R-RES-4 and R-ATT-1 checked, audited).
    `shares` are (staff, ratio) pairs; by default one new staff member holds all of it."""

    class Meta:
        model = Relationship

    customer = factory.SubFactory(CustomerFactory)
    type_code = "NEW_DEV"
    shares = factory.LazyFunction(lambda: [(StaffFactory(), Decimal("1"))])
    effective_from = dt.date(2026, 3, 2)
    source = "test"

    @classmethod
    def _create(cls, model_class, *, customer, type_code, shares, effective_from, source):
        return relationship_create(
            actor="test", customer=customer, rel_type=RelationshipType.objects.get(code=type_code),
            shares=[Share(staff=staff, ratio=Decimal(str(ratio))) for staff, ratio in shares],
            effective_from=effective_from, source=source)


class ApprovalCaseFactory(factory.Factory):
    """A case opened by `case_open` on its reason's active chain, proposing `shares` ((staff, ratio) pairs)."""

    class Meta:
        model = ApprovalCase

    reason = CaseReason.LATE
    type_code = "NEW_DEV"
    customer = factory.SubFactory(CustomerFactory)
    shares = factory.LazyFunction(lambda: [(StaffFactory(), Decimal("1"))])
    opening_date = dt.date(2026, 3, 2)
    dedupe_key = factory.Sequence(lambda n: f"test-case-{n}")

    @classmethod
    def _create(cls, model_class, *, reason, type_code, customer, shares, opening_date, dedupe_key, **extra):
        staff = shares[0][0]
        return case_open(
            actor="test", reason=reason, rel_type=RelationshipType.objects.get(code=type_code), customer=customer,
            proposed_shares=[{"staff_id": s.pk, "ratio": str(r)} for s, r in shares],
            dedupe_key=dedupe_key, opening_date=opening_date, opening_outlet=extra.pop("opening_outlet", staff.outlet),
            branch=extra.pop("branch", staff.outlet.branch), applicant=extra.pop("applicant", staff), **extra)
