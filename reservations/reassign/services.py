"""Filing a reassignment (R-STAFF-1): the branch picks a staff member's relationships and their new holders; every
line is checked before filing (R-RES-4, R-ATT-1) with a message per refused line; the good lines are one case
through the branch's 1-level chain, with another branch's confirmation and head office where that branch's staff
take over (R-MATCH-5, `approvals.routing`). The case's follower carries it out (`reservations.reassign.follow`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import CaseOutcome, CaseReason
from approvals.services import case_open
from common.actors import actor_user
from permissions.authority import may_act_for_branch
from relationships.audit import audit
from relationships.models import Callback, Reassignment, ReassignmentLine, Relationship, Staff
from relationships.reassignment import lines_refusals
from relationships.services import Share, parse_ratio


@dataclass
class Filed:
    """The outcome of a filing: the reassignment (None when every line was refused) and the refused lines."""

    reassignment: Reassignment | None
    refused: dict[int, str] = field(default_factory=dict)  # relationship id → reason


def clean_participants(participants: Sequence[tuple[Staff, object]], *, from_staff: Staff) -> list[Share]:
    """R-RES-4 for the batch as a whole (each ratio, their sum, nobody twice); per-type rules are per line."""
    errors: list[str] = []
    shares: list[Share] = []
    for staff, ratio in participants:
        try:
            shares.append(Share(staff, parse_ratio(ratio)))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if not errors and any(s.staff.pk == from_staff.pk for s in shares):
        errors.append(_("%(staff)s cannot take over his own relationships.") % {"staff": from_staff})
    ids = [s.staff.pk for s in shares]
    total = sum((s.ratio for s in shares), Decimal("0"))
    if not errors and not shares:
        errors.append(_("At least one holder is required."))
    elif not errors and len(set(ids)) != len(ids):
        errors.append(_("A staff member appears twice among the participants."))
    elif not errors and total > 1:
        errors.append(_("The split ratios add up to %(total)s, which exceeds 1.") % {"total": total})
    if errors:
        raise ValidationError({"participants": errors})
    return shares


def reassignment_file(*, actor, from_staff: Staff, relationships: Sequence[Relationship],
                      participants: Sequence[tuple[Staff, object]], effective_from: dt.date, note: str = "",
                      source: str = "form", callback: Callback | None = None) -> Filed:
    """File one reassignment case for the eligible lines of `relationships` (already scoped by the caller)."""
    from_staff = Staff.objects.select_related("outlet__branch").get(pk=from_staff.pk)
    branch = from_staff.outlet.branch
    if branch is None or not may_act_for_branch(actor, branch.pk):
        raise PermissionDenied(_("Only the branch of %(staff)s (or the head office) may reassign his "
                                 "relationships.") % {"staff": from_staff})
    shares = clean_participants(participants, from_staff=from_staff)
    rels = list(relationships)
    if not rels:
        raise ValidationError(_("Choose at least one relationship to reassign."))
    refused = lines_refusals(rels, from_staff=from_staff, shares=shares, on=effective_from)
    good = [r for r in rels if r.pk not in refused]
    if not good:
        return Filed(None, refused)
    stored = [{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares]
    try:
        with transaction.atomic():
            ra = Reassignment.objects.create(branch=branch, from_staff=from_staff, effective_from=effective_from,
                                             shares=stored, note=(note or "").strip(), source=source,
                                             requested_by=actor_user(actor), callback=callback)
            ReassignmentLine.objects.bulk_create([ReassignmentLine(reassignment=ra, relationship=r) for r in good],
                                                 batch_size=5000)
            first = good[0]
            case = case_open(
                actor=actor, reason=CaseReason.REASSIGNMENT, rel_type=first.type, customer=first.customer,
                proposed_shares=stored, dedupe_key=ra.dedupe_key, branch=branch, applicant=None,
                outcome=CaseOutcome.REASSIGN, opening_date=effective_from,
                explanation_code=ExplanationCode.REASSIGN,
                explanation_params={"date": effective_from.isoformat(), "staff_ids": [from_staff.pk],
                                    "line": len(good), "note": ra.note},
                explanation=_("Reassign %(n)d relationships of %(staff)s from %(date)s.") % {
                    "n": len(good), "staff": from_staff, "date": effective_from.isoformat()})
            ra.case_id = case.pk
            ra.save(update_fields=["case_id"])
            audit(actor=actor, action="reassignment.file", target=ra, after={
                "from_staff": from_staff.pk, "effective_from": effective_from.isoformat(), "shares": stored,
                "relationships": len(good), "refused": len(refused), "case": case.pk})
    except IntegrityError:  # another filing took one of these relationships at the same moment
        raise ValidationError(_("Some of these relationships were just put into another reassignment; "
                                "reload and choose again.")) from None
    return Filed(ra, refused)
