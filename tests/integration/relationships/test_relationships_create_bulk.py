"""The batch's relationship creation (`relationships_create_bulk`), one set-based statement for the nightly
matching and the secondary matching: every row it writes, and the ids it hands back."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from common.actors import BATCH, actor_label
from relationships.models import AuditEntry, Relationship, RelationshipShare
from relationships.services import NewRelationship, relationships_create_bulk
from tests.support.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_r_match_1_bulk_creation_writes_each_relationship_its_shares_and_audit_row_and_returns_ids_in_row_order(
        outlet):
    """R-MATCH-1 / R-RES-4: the ids come back in the order of the rows (the callers pair them with their
    reservations), each relationship has its holders at their ratios from its first day, and one audit row says
    what led to it, with the shares as the service was given them."""
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    a, b = StaffFactory(outlet=outlet), StaffFactory(outlet=outlet)
    day = dt.date(2026, 11, 20)
    rows = [
        NewRelationship(customer_id=third.pk, type_code="NEW_DEV", effective_from=day, source="reservation",
                        outlet_id=outlet.pk, origin_event_id=None, shares=[(a.pk, Decimal("1.0000"))],
                        because={"reservation": 30}),
        NewRelationship(customer_id=first.pk, type_code="NEW_DEV", effective_from=day, source="secondary",
                        outlet_id=outlet.pk, origin_event_id=None,
                        shares=[(b.pk, Decimal("0.6000")), (a.pk, Decimal("0.4000"))],
                        because={"reservation": 10, "preassignment": 7}),
        NewRelationship(customer_id=second.pk, type_code="IB_SERVICE", effective_from=day, source="reservation",
                        outlet_id=None, origin_event_id=None, shares=[(a.pk, Decimal("1.0000"))],
                        because={"reservation": 20}),
    ]

    ids = relationships_create_bulk(actor=BATCH, rows=rows)

    rels = [Relationship.objects.get(pk=pk) for pk in ids]
    assert [(r.customer_id, r.type_id, r.source, r.outlet_id) for r in rels] == [
        (third.pk, "NEW_DEV", "reservation", outlet.pk), (first.pk, "NEW_DEV", "secondary", outlet.pk),
        (second.pk, "IB_SERVICE", "reservation", None)]
    assert all(r.effective_from == day and r.effective_to is None for r in rels)
    assert list(RelationshipShare.objects.filter(relationship_id=ids[1]).order_by("id")
                .values_list("staff_id", "ratio", "effective_from", "effective_to")) == [
        (b.pk, Decimal("0.6000"), day, None), (a.pk, Decimal("0.4000"), day, None)]
    trail = {e.target_id: e for e in AuditEntry.objects.filter(action="relationship.create")}
    assert set(trail) == {str(pk) for pk in ids}
    entry = trail[str(ids[1])]
    assert (entry.actor_id, entry.actor_label, entry.target_model, entry.before) == (
        None, actor_label(BATCH), "relationships.relationship", None)
    assert entry.after == {"type": "NEW_DEV", "effective_from": "2026-11-20", "source": "secondary",
                           "reservation": 10, "preassignment": 7,
                           "shares": [{"staff_id": b.pk, "ratio": "0.6000"}, {"staff_id": a.pk, "ratio": "0.4000"}]}


def test_bulk_creation_of_nothing_writes_nothing():
    assert relationships_create_bulk(actor=BATCH, rows=[]) == []
    assert not AuditEntry.objects.filter(action="relationship.create").exists()
