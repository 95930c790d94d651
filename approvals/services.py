"""Opening approval cases. Moving them through their chains is the approval engine's work (issue 3)."""
from __future__ import annotations

from typing import Sequence

from django.db import transaction

from approvals.chains import active_chains, chain_code_for
from approvals.models import ApprovalCase
from relationships.audit import audit, audit_many


def case_open(*, actor, reason: str, rel_type, customer, proposed_shares: Sequence[dict], dedupe_key: str,
              branch=None, applicant=None, opening_event=None, explanation: str = "") -> ApprovalCase:
    chain = active_chains()[chain_code_for(reason, rel_type)]
    with transaction.atomic():
        case = ApprovalCase.objects.create(
            reason=reason, type=rel_type, customer=customer, chain=chain, proposed_shares=list(proposed_shares),
            opening_event=opening_event, opening_date=opening_event.business_date if opening_event else None,
            opening_outlet=opening_event.outlet if opening_event else None, branch=branch, applicant=applicant,
            explanation=explanation, dedupe_key=dedupe_key)
        audit(actor=actor, action="approval_case.open", target=case,
              after={"reason": reason, "type": rel_type.code, "shares": list(proposed_shares)})
    return case


def cases_open_bulk(*, actor, cases: list[ApprovalCase]) -> list[ApprovalCase]:
    """The nightly batch's variant: one INSERT for a unit's cases, one for their audit rows."""
    if not cases:
        return []
    chains = active_chains()
    for case in cases:
        case.chain = chains[chain_code_for(case.reason, case.type)]
    created = ApprovalCase.objects.bulk_create(cases, batch_size=2000)
    audit_many(actor=actor, action="approval_case.open", model_label="approvals.approvalcase", rows=[
        (c.pk, None, {"reason": c.reason, "type": c.type_id, "shares": c.proposed_shares}) for c in created])
    return created
