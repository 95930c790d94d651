"""The case's lock, its state machine and its proposed holders: what every approval action shares (R-APR-7)."""
from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from approvals.models import (
    ApprovalCase,
    CaseAction,
    CaseDocuments,
    CaseReason,
    CaseStep,
)
from relationships.audit import audit
from relationships.models import Staff
from relationships.services import Share, check_can_attach, parse_ratio, validate_shares

DECISIONS = ("approve", "reject", "return")


def _staff_id(row: dict) -> int:
    return int(row["staff_id"])



def _moved_on() -> ValidationError:
    return ValidationError(_("The case has moved on: this step has already been decided or the case is no "
                             "longer pending. Reload the case to see its current state. [R-APR-7]"),
                           code="moved_on")


def _lock(case_id: int) -> tuple[ApprovalCase, list[CaseStep]]:
    try:
        case = (ApprovalCase.objects.select_for_update(of=("self",))
                .select_related("type", "chain", "applicant", "target_relationship").get(pk=case_id))
    except ApprovalCase.DoesNotExist:
        raise ValidationError(_("This approval case does not exist."), code="not_found") from None
    steps = list(CaseStep.objects.select_for_update().filter(case=case).order_by("order", "id"))
    return case, steps


def _shares_from_rows(rows: Sequence[dict]) -> list[Share]:
    ids = []
    for row in rows:
        try:
            ids.append(_staff_id(row))
        except (KeyError, TypeError, ValueError):
            raise ValidationError(_("Each holder needs a staff member and a ratio."), code="holder_format") from None
    staff = Staff.objects.in_bulk(ids)
    missing = [i for i in ids if i not in staff]
    if missing:
        raise ValidationError(_("Unknown staff member(s): %(ids)s.") % {"ids": ", ".join(map(str, missing))})
    return [Share(staff=staff[i], ratio=parse_ratio(row.get("ratio"))) for i, row in zip(ids, rows, strict=False)]


def _clean_shares(case: ApprovalCase, rows: Sequence[dict]) -> list[dict]:
    """R-RES-4 and R-ATT-1 on changed holders/ratios; returns the stored form."""
    shares = _shares_from_rows(rows)
    validate_shares(case.type, shares)
    check_can_attach(shares, case.type, case.opening_date or timezone.localdate())
    return [{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares]


def needs_documents(case: ApprovalCase) -> bool:
    """R-APR-5: broker development (by reason, or a type whose chain is always the broker chain)."""
    always = case.type.chain_always  # a type HQ set to be always approved on another chain needs none (R-TYPE-2)
    return always == "broker" or (case.reason == CaseReason.BROKER and not always)


def _write_documents(*, actor, case: ApprovalCase, documents: dict) -> CaseDocuments:
    unknown = set(documents) - set(CaseDocuments.FIELDS)
    if unknown:
        raise ValidationError(_("Unknown document field(s): %(f)s.") % {"f": ", ".join(sorted(unknown))})
    docs, _created = CaseDocuments.objects.get_or_create(case=case, defaults={"recorded_by": actor})
    before = docs.as_dict()
    for f in CaseDocuments.FIELDS:
        if f in documents:
            setattr(docs, f, bool(documents[f]))
    docs.recorded_by = actor
    docs.save()
    CaseAction.objects.create(case=case, step_order=case.current_step, actor=actor, decision="documents",
                              before=before, after=docs.as_dict())
    audit(actor=actor, action="approval_case.documents", target=case, before=before, after=docs.as_dict())
    return docs


def _save(case: ApprovalCase, fields: list[str]) -> None:
    try:
        case.save(update_fields=fields + ["updated_at"])
    except ConcurrentTransition:
        raise _moved_on() from None


def _transition(case: ApprovalCase, name: str) -> None:
    try:
        getattr(case, name)()
    except TransitionNotAllowed:
        raise _moved_on() from None
