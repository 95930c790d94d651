"""The conflict case (争议案件, R-MATCH-3) and who may never act on it (R-APR-3).

Every competing claim for one customer and type is one case while it is open: on-time duplicates (the nightly
batch), late reservations registered inside the late window after the case opened (registration), claims by staff
of other branches. The database keeps it one (`approval_case_one_open_claim`, a partial unique index on open claim
cases per customer and type); a claim joins under the case's row lock, so a join and a decision serialise.

Each claim is a `CaseClaimant` row (reservation, staff, registration time, lateness, proposed ratios). A case
whose claimants span branches gains the branches' confirmations and HQ (approvals.routing). Nobody who is or ever
was a claimant, a co-developer or a proposed holder acts on the case, and the final approver may not name himself
or an earlier actor as a holder.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from approvals.models import (
    ApprovalCase,
    CaseAction,
    CaseClaimant,
    CaseReason,
    CaseStep,
    StepState,
)
from approvals.routing import plan_confirmations, routes_cross_region, staff_ids_of
from common.actors import actor_user
from relationships.audit import audit_many
from relationships.models import Organisation, OrgKind, Staff


@dataclass
class Claim:
    """One reservation's claim: who, when, late by how many working days (None: on time), with which ratios."""

    staff_id: int
    registered_at: dt.datetime
    shares: list[dict] = field(default_factory=list)
    reservation_id: int | None = None
    late_workdays: int | None = None

    def row(self, case_id: int) -> CaseClaimant:
        return CaseClaimant(case_id=case_id, reservation_id=self.reservation_id, staff_id=self.staff_id,
                            registered_at=self.registered_at, late_workdays=self.late_workdays,
                            shares=list(self.shares))


_CLAIMS_RECORD_SQL = """
INSERT INTO approvals_caseclaimant (case_id, reservation_id, staff_id, registered_at, late_workdays, shares, joined_at)
SELECT x.case_id, x.reservation_id, x.staff_id, x.registered_at, x.late_workdays, x.shares, statement_timestamp()
FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (case_id bigint, reservation_id bigint, staff_id bigint,
                                                   registered_at timestamptz, late_workdays int, shares jsonb))
     WITH ORDINALITY AS x(case_id, reservation_id, staff_id, registered_at, late_workdays, shares, n)
ORDER BY x.n
"""


def claims_record(claims_by_case: Mapping[int, Sequence[Claim]]) -> int:
    """One INSERT for the claimants of newly opened cases, from one JSON document of the claims (the batch opens
    hundreds of cases a unit: model objects cost more than the write). Returns how many were recorded."""
    doc = [{"case_id": case_id, "reservation_id": c.reservation_id, "staff_id": c.staff_id,
            "registered_at": c.registered_at.isoformat(), "late_workdays": c.late_workdays, "shares": list(c.shares)}
           for case_id, claims in claims_by_case.items() for c in claims]
    if doc:
        with connection.cursor() as cur:
            cur.execute(_CLAIMS_RECORD_SQL, [json.dumps(doc)])
    return len(doc)


def hq_lookup() -> Callable[[], int]:
    """The head office's id, read once and only when a step needs it."""
    cache: list[int] = []

    def get() -> int:
        if not cache:
            hq = Organisation.objects.filter(kind=OrgKind.HQ).order_by("id").values_list("id", flat=True).first()
            if hq is None:
                raise ValidationError(_("No head-office organisation is set up, so an HQ step cannot be assigned."))
            cache.append(hq)
        return cache[0]
    return get


def staff_branches(staff_ids: Iterable[int]) -> dict[int, int | None]:
    return dict(Staff.objects.filter(pk__in=set(staff_ids)).values_list("id", "outlet__branch_id"))


def opening_branch_of(case: ApprovalCase) -> int | None:
    """The branch whose chain runs the case: the opening outlet's branch, else the case's branch."""
    outlet = case.opening_outlet if case.opening_outlet_id else None
    return (outlet.branch_id if outlet is not None else None) or case.branch_id


def claims_join(*, actor, joins: dict[int, list[Claim]]) -> list[ApprovalCase]:
    """R-MATCH-3: the claims join their open cases, each case locked first (id order), then its steps.

    A case with claimants of two or more staff becomes a duplicate case (same late/duplicate chain); claimants of
    other branches bring their confirmations and HQ (R-MATCH-5). Each join is one CaseAction and one audit row.
    Set-based: a fixed number of statements whatever the number of cases. The caller checks the cases are open
    (it holds them locked)."""
    if not joins:
        return []
    cases = list(ApprovalCase.objects.select_for_update(of=("self",)).select_related("type", "opening_outlet")
                 .filter(pk__in=joins).order_by("pk"))
    steps: dict[int, list[CaseStep]] = defaultdict(list)
    for s in CaseStep.objects.select_for_update().filter(case__in=cases).order_by("case_id", "order", "id"):
        steps[s.case_id].append(s)
    earlier: dict[int, list[CaseClaimant]] = defaultdict(list)
    for c in CaseClaimant.objects.filter(case__in=cases).order_by("registered_at", "id"):
        earlier[c.case_id].append(c)
    branch_of = staff_branches({sid for case in cases for sid in staff_ids_of(
        case, [*earlier[case.pk], *joins[case.pk]])})
    hq_id = hq_lookup()
    new_steps: list[CaseStep] = []
    new_claimants: list[CaseClaimant] = []
    relabel: list[ApprovalCase] = []
    actions: list[CaseAction] = []
    trail = []
    for case in cases:
        claims = joins[case.pk]
        new_claimants += [c.row(case.pk) for c in claims]
        everyone: list[Any] = [*earlier[case.pk], *claims]
        if case.reason == CaseReason.LATE and len({c.staff_id for c in everyone}) > 1:
            case.reason = CaseReason.DUPLICATE
            relabel.append(case)
        added: list[CaseStep] = []
        if routes_cross_region(case):
            branches = {branch_of.get(s) for s in staff_ids_of(case, everyone)} - {None}
            added = plan_confirmations(case, steps[case.pk], branches={b for b in branches if b is not None},
                                       opening_branch=opening_branch_of(case), hq_id=hq_id)
            new_steps += added
        after = {"claimants": [c.staff_id for c in claims], "reservations": [c.reservation_id for c in claims],
                 "reason": case.reason, "steps_added": [(s.order, s.post, s.organisation_id) for s in added]}
        actions.append(CaseAction(case=case, step_order=case.current_step, actor=actor_user(actor), decision="join",
                                  after=after))
        trail.append((case.pk, None, after))
    CaseClaimant.objects.bulk_create(new_claimants)
    if new_steps:
        CaseStep.objects.bulk_create(new_steps)
    if relabel:
        ApprovalCase.objects.bulk_update(relabel, ["reason"])
    CaseAction.objects.bulk_create(actions)
    audit_many(actor=actor, action="approval_case.join", model_label="approvals.approvalcase", rows=trail)
    return cases


# --------------------------------------------------------------------------------------------------
# R-APR-3: who may never act, and whom a final approver may not name
# --------------------------------------------------------------------------------------------------

def interested_user_ids(case: ApprovalCase) -> set[int]:
    """The users of everyone who is or ever was the applicant (or filer), a claimant, a claimant's co-developer or
    a proposed holder of the case (the history of holder changes included)."""
    staff_ids = staff_ids_of(case, CaseClaimant.objects.filter(case=case).only("staff_id", "shares"))
    if case.applicant_id:
        staff_ids.add(case.applicant_id)
    for side in CaseAction.objects.filter(case=case).filter(Q(before__has_key="shares") | Q(after__has_key="shares")
                                                            ).values_list("before", "after"):
        for value in side:
            if isinstance(value, dict):
                staff_ids |= {int(s["staff_id"]) for s in value.get("shares") or []}
    users = set(Staff.objects.filter(pk__in=staff_ids, user__isnull=False).values_list("user_id", flat=True))
    if case.filed_by_id:
        users.add(case.filed_by_id)
    return users


def check_new_holders(*, case: ApprovalCase, steps: Sequence[CaseStep], shares: Sequence[dict],
                      persons: set[int]) -> None:
    """R-APR-3: the final approver (`persons`: he and whom he acts for) may not name himself, nor anyone who acted
    on an earlier step of the case, as a holder. A ValidationError on `shares` naming them; nothing changes."""
    acted = set(persons)
    for s in steps:
        if s.state in (StepState.APPROVED, StepState.RETURNED, StepState.REJECTED):
            acted |= {u for u in (s.decided_by_id, s.on_behalf_of_id) if u}
    acted |= {u for u in CaseAction.objects.filter(case=case, decision__in=("approve", "return", "reject"))
              .values_list("actor_id", flat=True) if u}
    refused = list(Staff.objects.filter(pk__in=[int(s["staff_id"]) for s in shares], user_id__in=acted)
                   .order_by("staff_no").values_list("staff_no", "name"))
    if refused:
        raise ValidationError({"shares": [_(
            "A final approver may not name himself, or anyone who acted on an earlier step of this case, as a "
            "holder: %(staff)s. [R-APR-3]") % {"staff": ", ".join(f"{no} {name}" for no, name in refused)}]},
            code="holder_acted")
