"""Opening cases on their chain and materialising their steps (R-APR-1/2/6, R-MATCH-3/5)."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from approvals.chains import active_chains, chain_code_for
from approvals.conflicts import Claim, claims_record, hq_lookup
from approvals.models import (
    ApprovalCase,
    CaseOutcome,
    CaseStep,
    ChainStep,
    StepKind,
)
from approvals.notifications import notify_steps_waiting, notify_steps_waiting_atomic
from approvals.routing import CONFIRMING_SCOPES, plan_confirmations, routes_cross_region, staff_ids_of
from approvals.services.state import _staff_id
from common.actors import actor_user
from relationships.audit import audit, audit_many
from relationships.models import Organisation, Staff


def _build_steps(cases: Sequence[ApprovalCase], claims: Mapping[int, Sequence[Any]] | None = None) -> list[CaseStep]:
    """Resolve each chain step's acting organisation for every case, with a fixed number of queries; a case whose
    holders or claimants span branches gains their confirmations and HQ (R-MATCH-5, approvals.routing)."""
    claims = claims or {}
    chain_steps: dict[int, list[ChainStep]] = defaultdict(list)
    for cs in ChainStep.objects.filter(chain_id__in={c.chain_id for c in cases}).order_by("order", "id"):
        chain_steps[cs.chain_id].append(cs)
    scopes = {cs.scope for steps in chain_steps.values() for cs in steps}
    hq = hq_lookup()
    hq_id = hq() if "hq" in scopes else None
    staff_ids = {sid for c in cases for sid in staff_ids_of(c, claims.get(c.pk, ()))} | {
        c.applicant_id for c in cases if c.applicant_id}
    staff_rows: dict[int, tuple[int | None, int | None]] = {sid: (outlet_id, branch_id) for sid, outlet_id, branch_id in
                  Staff.objects.filter(pk__in=staff_ids).values_list("id", "outlet_id", "outlet__branch_id")}
    outlet_ids = {c.opening_outlet_id for c in cases if c.opening_outlet_id}
    outlet_branch = dict(Organisation.objects.filter(pk__in=outlet_ids).values_list("id", "branch_id")) \
        if outlet_ids else {}

    steps: list[CaseStep] = []
    for case in cases:
        case_steps: list[CaseStep] = []
        applicant_outlet, applicant_branch = staff_rows.get(case.applicant_id or 0, (None, None))
        opening_branch = outlet_branch.get(case.opening_outlet_id or 0) or case.branch_id or applicant_branch
        by_scope = {
            "branch": case.branch_id or opening_branch,
            "outlet": case.opening_outlet_id or applicant_outlet,
            "opening_branch": opening_branch,
            "hq": hq_id,
        }
        assert case.chain_id is not None, "a case enters its chain when it opens"
        for cs in chain_steps[case.chain_id]:
            if cs.scope == "participant_branches":
                orgs = sorted({b for s in case.proposed_shares if _staff_id(s) in staff_rows
                               for b in [staff_rows[_staff_id(s)][1]] if b is not None and b != opening_branch})
            else:
                org = by_scope[cs.scope]
                if org is None:
                    raise ValidationError(_("The case has no %(scope)s to act on step %(order)d.") % {
                        "scope": cs.get_scope_display(), "order": cs.order})
                orgs = [int(org)]
            kind = StepKind.CONFIRM if cs.scope in CONFIRMING_SCOPES else StepKind.CHAIN
            case_steps.extend(CaseStep(case=case, order=cs.order, post=cs.post, organisation_id=org, kind=kind)
                              for org in orgs)
        if routes_cross_region(case):
            branches = {staff_rows[sid][1] for sid in staff_ids_of(case, claims.get(case.pk, ()))
                        if sid in staff_rows}
            case_steps += plan_confirmations(case, case_steps, branches={b for b in branches if b is not None},
                                             opening_branch=opening_branch, hq_id=hq)
        steps.extend(case_steps)
    return steps


def case_open(*, actor, reason: str, rel_type, customer, proposed_shares: Sequence[dict], dedupe_key: str,
              branch=None, applicant=None, opening_event=None, opening_date: dt.date | None = None,
              opening_outlet=None, explanation: str = "", outcome: str = CaseOutcome.CREATE,
              target_relationship=None, branch_request=None, core_line=None, explanation_code: str = "",
              explanation_params: dict | None = None, claims: Sequence[Claim] = ()) -> ApprovalCase:
    """Open a case on the reason's active chain. `outcome` says what final approval does: create the
    relationship (default), or end `target_relationship` on the case's date (`end`), or end it and create its
    successor (`replace`). The case's date and outlet are its opening event's, unless given (a branch request
    or a core-list line has no opening: its requested date and the holder's outlet)."""
    outcome = CaseOutcome(outcome)
    if (outcome in (CaseOutcome.CREATE, CaseOutcome.REASSIGN)) != (target_relationship is None):
        raise ValidationError(_("Only a case that ends or replaces a relationship names the relationship."))
    if target_relationship is not None and (target_relationship.customer_id != customer.pk
                                            or target_relationship.type_id != rel_type.pk):
        raise ValidationError(_("The relationship to end belongs to another customer or type."))
    chain = active_chains()[chain_code_for(reason, rel_type)]
    with transaction.atomic():
        case = ApprovalCase.objects.create(
            reason=reason, type=rel_type, customer=customer, chain=chain, proposed_shares=list(proposed_shares),
            opening_event=opening_event,
            opening_date=opening_date or (opening_event.business_date if opening_event else None),
            opening_outlet=opening_outlet or (opening_event.outlet if opening_event else None),
            branch=branch, applicant=applicant,
            explanation=explanation, explanation_code=explanation_code,
            explanation_params=dict(explanation_params or {}), dedupe_key=dedupe_key, outcome=outcome,
            target_relationship=target_relationship, filed_by=actor_user(actor), branch_request=branch_request,
            core_line=core_line)
        claims_record({case.pk: claims})  # R-MATCH-3: the case records its claimants
        steps = CaseStep.objects.bulk_create(_build_steps([case], {case.pk: claims}))
        _sync_current_step([case], steps)
        notify_steps_waiting([case.pk])  # R-APR-9: its holders hear of it after the commit
        audit(actor=actor, action="approval_case.open", target=case,
              after={"reason": reason, "type": rel_type.code, "shares": list(proposed_shares),
                     "opening_date": case.opening_date.isoformat() if case.opening_date else None,
                     "opening_outlet": case.opening_outlet_id})
    return case


def cases_open_bulk(*, actor, cases: list[ApprovalCase],
                    claims: Sequence[Sequence[Claim]] | None = None) -> list[ApprovalCase]:
    """The nightly batch's variant: one INSERT for a unit's cases, one for their claimants (`claims`, in the order
    of `cases`), one for their steps, one for audit rows."""
    if not cases:
        return []
    chains = active_chains()
    for case in cases:
        case.chain = chains[chain_code_for(case.reason, case.type)]
    created = ApprovalCase.objects.bulk_create(cases, batch_size=2000)
    by_case = {c.pk: list(cl) for c, cl in zip(created, claims or [], strict=False) if cl}
    claims_record(by_case)
    steps = _build_steps(created, by_case)
    _steps_insert(steps)
    _sync_current_step(created, steps)
    audit_many(actor=actor, action="approval_case.open", model_label="approvals.approvalcase", rows=[
        (c.pk, None, {"reason": c.reason, "type": c.type_id, "shares": c.proposed_shares}) for c in created])
    # R-APR-9: told after the unit commits, in a transaction of their own (the unit's statements stay constant).
    ids = [c.pk for c in created]
    transaction.on_commit(lambda: notify_steps_waiting_atomic(ids))
    return created


_STEPS_INSERT_SQL = """
INSERT INTO approvals_casestep (case_id, "order", post, organisation_id, state, kind)
SELECT x.case_id, x."order", x.post, x.organisation_id, x.state, x.kind
FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (case_id bigint, "order" int, post text, organisation_id bigint,
                                                   state text, kind text))
     WITH ORDINALITY AS x(case_id, "order", post, organisation_id, state, kind, n)
ORDER BY x.n
"""


def _steps_insert(steps: Sequence[CaseStep]) -> None:
    """The batch's steps (thousands a unit) in one INSERT from one JSON document, in their order, without the ORM's
    per-value preparation; the caller needs no step ids."""
    if steps:
        with connection.cursor() as cur:
            cur.execute(_STEPS_INSERT_SQL, [json.dumps([
                {"case_id": s.case_id, "order": s.order, "post": str(s.post), "organisation_id": s.organisation_id,
                 "state": str(s.state), "kind": str(s.kind)} for s in steps])])


def _sync_current_step(cases: Sequence[ApprovalCase], steps: Sequence[CaseStep]) -> None:
    """Chains start at order 1; only a chain starting elsewhere needs an UPDATE (none seeded does)."""
    first: dict[int, int] = {}
    for s in steps:
        first[s.case_id] = min(first.get(s.case_id, s.order), s.order)
    stale = [c for c in cases if c.pk in first and c.current_step != first[c.pk]]
    for c in stale:
        c.current_step = first[c.pk]
    if stale:
        ApprovalCase.objects.bulk_update(stale, ["current_step"])
