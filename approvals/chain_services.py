"""HQ maintains the chains as data (R-TYPE-2): a chain's steps are edited only while no case has entered it; a
change to a chain in use is a new version, which takes effect for the cases opened after it is activated (running
cases keep the version they started with: their steps are materialised, and a resubmission rebuilds them from
their own version)."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from approvals.models import ApprovalCase, Chain, ChainStep
from permissions.authority import is_hq_office
from relationships.audit import audit


def _require_hq(actor) -> None:
    if not is_hq_office(actor):
        raise PermissionDenied(_("Only the head office maintains approval chains and relationship types."))


def chain_in_use(chain: Chain) -> bool:
    return ApprovalCase.objects.filter(chain=chain).exists()


def chain_new_version(*, actor, chain_id: int) -> Chain:
    """A copy of the chain and its steps as the next version, not active yet (edit its steps, then activate it)."""
    _require_hq(actor)
    with transaction.atomic():
        source = Chain.objects.select_for_update().get(pk=chain_id)
        latest = Chain.objects.filter(code=source.code).aggregate(v=Max("version"))["v"] or source.version
        chain = Chain.objects.create(code=source.code, version=latest + 1, name=source.name, active=False)
        ChainStep.objects.bulk_create(ChainStep(chain=chain, order=s.order, post=s.post, scope=s.scope)
                                      for s in source.steps.order_by("order", "id"))
        audit(actor=actor, action="chain.new_version", target=chain,
              after={"code": chain.code, "version": chain.version, "from_version": source.version})
    return chain


def chain_activate(*, actor, chain_id: int) -> Chain:
    """Make this version the one new cases enter; the version active before stays with its running cases."""
    _require_hq(actor)
    with transaction.atomic():
        chain = Chain.objects.select_for_update().get(pk=chain_id)
        if not chain.steps.exists():
            raise ValidationError(_("A chain without steps cannot be activated."))
        before = list(Chain.objects.select_for_update().filter(code=chain.code, active=True)
                      .exclude(pk=chain.pk).values_list("version", flat=True))
        Chain.objects.filter(code=chain.code, active=True).exclude(pk=chain.pk).update(active=False)
        if not chain.active:
            chain.active = True
            chain.save(update_fields=["active"])
        audit(actor=actor, action="chain.activate", target=chain, before={"active_versions": before},
              after={"code": chain.code, "version": chain.version})
    return chain
