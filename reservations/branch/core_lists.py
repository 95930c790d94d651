"""R-CORE-1/2/3: the branch's core-customer list, checked line by line on submission and reviewed by HQ
line by line (each accepted line is one `core_list` case); removals likewise, in January and July only."""
from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import ApprovalCase, CaseOutcome, CaseReason
from approvals.services import case_open
from common.actors import actor_user
from permissions.authority import acting_branch_ids
from permissions.scoping import visible_relationships
from relationships.audit import audit
from relationships.identity import normalise_id_number
from relationships.models import (
    Account,
    CoreLineStatus,
    CoreListLine,
    CoreListSubmission,
    Customer,
    Organisation,
    Relationship,
    RelationshipShare,
    RelationshipType,
    Staff,
)
from relationships.pii import mask_id, pii_hashes
from relationships.selectors import customer_branch_ids
from relationships.services import attach_refusals
from relationships.types import core_type, development_type_codes
from reservations.branch.requests import require_branch

CORE_MONTHS = (1, 7)
CORE_MAX_PER_ADVISOR = 100
CORE_MIN_OPEN_MONTHS = 12
CORE_REMOVE_KEY = "core_remove:"


def months_before(day: dt.date, months: int) -> dt.date:
    year, month = day.year, day.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def core_month_refusal(on: dt.date) -> str | None:
    if on.month in CORE_MONTHS:
        return None
    return _("Core lists can be changed only in January and July; this submission is dated %(date)s.") % {
        "date": on}


def core_list_remove(*, actor, relationship_id: int, reason: str, today: dt.date | None = None) -> ApprovalCase:
    """R-CORE-3: the branch asks to take a customer off its core list. Removal is a change of the list, so it is
    accepted only in January and July; it opens a `core_list` case (HQ) with outcome `end` on the active
    `CORE_SERVICE` relationship, which stays active while pending and is ended by the engine on approval."""
    reason = (reason or "").strip()
    today = today or timezone.localdate()
    month_problem = core_month_refusal(today)
    if month_problem:
        raise ValidationError(month_problem, code="core_month")
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for removing the customer from the core list.")]})
    with transaction.atomic():
        rel = (Relationship.objects.select_for_update(of=("self",)).select_related("type", "outlet", "customer")
               .filter(pk=relationship_id).first())
        core = core_type()
        if rel is None or rel.type_id != core.code:
            raise ValidationError(_("Only a core-customer (%(code)s) relationship can be removed from the core "
                                    "list.") % {"code": core.code})
        if rel.effective_to is not None:
            raise ValidationError(_("This relationship version has already ended."))
        branch_id = rel.outlet.branch_id if rel.outlet else None
        require_branch(actor, branch_id)
        if (ApprovalCase.objects.in_progress().filter(customer=rel.customer, type=rel.type).exists()
                or CoreListLine.objects.filter(customer=rel.customer, status=CoreLineStatus.PENDING).exists()):
            raise ValidationError(_("A request for this relationship is waiting for approval."))
        removals = ApprovalCase.objects.filter(target_relationship=rel, reason=CaseReason.CORE_LIST).count()
        advisors = ", ".join(str(s.staff) for s in rel.shares.filter(effective_to__isnull=True)
                             .select_related("staff"))
        case = case_open(
            actor=actor, reason=CaseReason.CORE_LIST, rel_type=rel.type, customer=rel.customer,
            # The n-th removal asked for this version: a double submit finds its key taken and opens nothing.
            proposed_shares=[], dedupe_key=f"{CORE_REMOVE_KEY}{rel.pk}:{removals + 1}",
            branch=rel.outlet.branch if rel.outlet else None, applicant=None, outcome=CaseOutcome.END,
            target_relationship=rel, explanation_code=ExplanationCode.CORE_REMOVE,
            explanation_params={"date": today.isoformat(), "note": reason, "staff_ids": list(
                rel.shares.filter(effective_to__isnull=True).values_list("staff_id", flat=True))},
            explanation=_("Remove from the core list of %(branch)s: %(advisor)s, requested by the branch on "
                          "%(date)s. [R-CORE-3]") % {
                "branch": rel.outlet.branch.name if rel.outlet and rel.outlet.branch else "—",
                "advisor": advisors or "—", "date": today}
                        + f"\n{reason}")
        audit(actor=actor, action="core_list.remove", target=rel, after={
            "relationship": rel.pk, "case": case.pk, "on": today.isoformat(), "reason": reason})
    return case


@dataclass
class CoreLineInput:
    line_no: int
    id_number: str
    staff_no: str
    effective_from: dt.date | None = None
    error: str = ""          # a parsing error found before submission (shown on the line)


@dataclass
class CoreResult:
    submission: CoreListSubmission | None
    accepted: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


def core_list_submit(*, actor, branch: Organisation, lines: Sequence[CoreLineInput], source: str = "form",
                     filename: str = "", submitted_at: dt.datetime | None = None) -> CoreResult:
    """R-CORE-1/2/3: check every line, keep the refused ones with their reason, send the others to HQ."""
    require_branch(actor, branch.pk)
    submitted_at = submitted_at or timezone.now()
    today = timezone.localtime(submitted_at).date()
    month_problem = core_month_refusal(today)
    if month_problem:
        raise ValidationError(month_problem, code="core_month")
    if not lines:
        raise ValidationError(_("The list has no lines."), code="empty")
    rel_type = core_type()
    cutoff = months_before(today, CORE_MIN_OPEN_MONTHS)
    result = CoreResult(submission=None)
    with transaction.atomic():
        submission = CoreListSubmission.objects.create(branch=branch, submitted_by=actor_user(actor),
                                                       submitted_at=submitted_at, source=source, filename=filename)
        result.submission = submission
        staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet").filter(
            staff_no__in={ln.staff_no for ln in lines if ln.staff_no})}
        # Counting per advisor must not race another submission: lock the advisors first, in id order.
        advisor_ids = sorted(s.pk for s in staff_by_no.values())
        list(Staff.objects.select_for_update().filter(pk__in=advisor_ids).order_by("pk").values_list("pk"))
        held = Counter(dict(RelationshipShare.objects.filter(
            staff_id__in=advisor_ids, effective_to__isnull=True, relationship__type_id=rel_type.code,
            relationship__effective_to__isnull=True).values_list("staff_id").annotate(n=Count("id"))))
        held.update(dict(CoreListLine.objects.filter(advisor_id__in=advisor_ids, status=CoreLineStatus.PENDING)
                         .values_list("advisor_id").annotate(n=Count("id"))))
        facts = _core_facts(lines, list(staff_by_no.values()), rel_type, cutoff, today)
        for ln in lines:
            problem, customer, advisor, masked = _core_line_problem(ln, branch, facts, staff_by_no, held, cutoff)
            line = CoreListLine(submission=submission, line_no=ln.line_no, customer=customer, id_masked=masked,
                                advisor=advisor, advisor_no=ln.staff_no[:32], effective_from=ln.effective_from)
            if problem is None:
                line.status = CoreLineStatus.PENDING
                try:
                    with transaction.atomic():
                        line.save()
                except IntegrityError:  # another submission took this customer a moment ago
                    problem = _("The customer is already on a core list under review (one advisor per core "
                                "customer).")
                    line.pk = None
                else:
                    held[advisor.pk] += 1
                    facts.pending.add(customer.pk)
                    case_open(
                        actor=actor, reason=CaseReason.CORE_LIST, rel_type=rel_type, customer=customer,
                        proposed_shares=[{"staff_id": advisor.pk, "ratio": "1.0000"}], dedupe_key=line.dedupe_key,
                        core_line=line,
                        branch=branch, applicant=None, opening_date=ln.effective_from, opening_outlet=advisor.outlet,
                        explanation_code=ExplanationCode.CORE_LINE, explanation_params={"line": ln.line_no},
                        explanation=_("Core list of %(branch)s, line %(line)d: %(advisor)s. [R-CORE-2]") % {
                            "branch": branch.name, "line": ln.line_no, "advisor": advisor})
                    result.accepted += 1
            if problem is not None:
                line.status, line.reason = CoreLineStatus.REFUSED, problem
                line.save()
                result.refused.append((ln.line_no, problem))
        audit(actor=actor, action="core_list.submit", target=submission, after={
            "branch": branch.code, "source": source, "accepted": result.accepted, "refused": len(result.refused)})
    return result


@dataclass
class _CoreFacts:
    """What the lines of one submission are judged on (R-CORE-1), read with a handful of queries for all of them."""

    customers: dict[str, Customer]            # by every live hash version of the ID number
    branches: dict[int, set[int]]             # customer → branches he is a customer of
    long_open: set[int]                       # customers with an account open for 12 months
    development: dict[int, str]               # customer → the development type he holds
    core_outlet: dict[int, str]               # customer → the outlet of his core relationship
    pending: set[int]                         # customers on a list under review
    refusals: dict[int, str | None]           # advisor → why he may not hold CORE_SERVICE


def _core_facts(lines: Sequence[CoreLineInput], advisors: Sequence[Staff], rel_type: RelationshipType,
                cutoff: dt.date, today: dt.date) -> _CoreFacts:
    hashes: set[str] = set()
    for ln in lines:
        try:
            hashes.update(pii_hashes(normalise_id_number(ln.id_number)))
        except ValidationError:
            continue
    customers = {c.id_hash: c for c in Customer.objects.filter(id_hash__in=hashes)}
    ids = list({c.pk for c in customers.values()})
    development: dict[int, str] = {}
    for cid, name in (Relationship.objects.filter(customer_id__in=ids, type_id__in=development_type_codes(),
                                                  effective_to__isnull=True)
                      .order_by("customer_id", "id").values_list("customer_id", "type__name")):
        development.setdefault(cid, name)
    core_outlet = {cid: name or "—" for cid, name in Relationship.objects.filter(
        customer_id__in=ids, type_id=core_type().code, effective_to__isnull=True
    ).values_list("customer_id", "outlet__name")}
    return _CoreFacts(
        customers=customers, branches=customer_branch_ids(ids),
        long_open=set(Account.objects.filter(customer_id__in=ids, closed_at__isnull=True,
                                             opened_at__date__lte=cutoff).values_list("customer_id", flat=True)),
        development=development, core_outlet=core_outlet,
        pending=set(CoreListLine.objects.filter(customer_id__in=ids, status=CoreLineStatus.PENDING)
                    .values_list("customer_id", flat=True)),
        refusals=attach_refusals(list(advisors), rel_type, today))


def _core_line_problem(ln: CoreLineInput, branch, facts: _CoreFacts, staff_by_no, held: Counter, cutoff: dt.date):
    """(problem or None, customer, advisor, masked id) of one line (R-CORE-1)."""
    if ln.error:
        return ln.error, None, None, ""
    try:
        id_number = normalise_id_number(ln.id_number)
    except ValidationError as exc:
        return " ".join(exc.messages), None, None, ""
    masked = mask_id(id_number)
    customer = next((facts.customers[h] for h in pii_hashes(id_number) if h in facts.customers), None)
    advisor = staff_by_no.get(ln.staff_no)
    if customer is None:
        return _("No customer with this ID card number is known to the platform."), None, advisor, masked
    if advisor is None:
        return _("There is no staff member with number %(no)s.") % {"no": ln.staff_no}, customer, None, masked
    if advisor.outlet.branch_id != branch.pk:
        return _("%(staff)s is not staff of this branch.") % {"staff": advisor}, customer, advisor, masked
    refusal = facts.refusals[advisor.pk]
    if refusal:  # investment advisor, investment-consulting qualification, open attach permission (R-CORE-1)
        return refusal, customer, advisor, masked
    if branch.pk not in facts.branches.get(customer.pk, set()):
        return _("The customer has no account at an outlet of %(branch)s.") % {"branch": branch.name}, \
            customer, advisor, masked
    if customer.pk not in facts.long_open:
        return _("The customer's account has not been open for 12 months (opened after %(date)s).") % {
            "date": cutoff}, customer, advisor, masked
    if customer.pk in facts.development:
        return _("The customer holds a %(type)s relationship, so he is not a natural new customer.") % {
            "type": facts.development[customer.pk]}, customer, advisor, masked
    if customer.pk in facts.core_outlet:
        return _("The customer is already a core customer, with %(outlet)s (one advisor per core customer).") % {
            "outlet": facts.core_outlet[customer.pk]}, customer, advisor, masked
    if customer.pk in facts.pending:
        return (_("The customer is already on a core list under review (one advisor per core customer)."),
                customer, advisor, masked)
    if held[advisor.pk] >= CORE_MAX_PER_ADVISOR:
        return _("%(staff)s already has %(n)d core customers (held or under review); the limit is %(max)d.") % {
            "staff": advisor, "n": held[advisor.pk], "max": CORE_MAX_PER_ADVISOR}, customer, advisor, masked
    return None, customer, advisor, masked


def branch_core_relationships(user):
    """The active core-service relationships at the branches `user` acts for (HQ's office: all), scoped
    (R-PERM-4), each with its advisor and whether a case about it is in progress."""
    ids = acting_branch_ids(user)
    qs = visible_relationships(user).filter(type_id=core_type().code, effective_to__isnull=True)
    if ids is not None:
        qs = qs.filter(outlet__branch_id__in=ids)
    in_progress = ApprovalCase.objects.in_progress().filter(customer=OuterRef("customer"), type=OuterRef("type"))
    return (qs.select_related("customer", "outlet")
            .prefetch_related(Prefetch("shares", queryset=RelationshipShare.objects.filter(
                effective_to__isnull=True).select_related("staff")))
            .annotate(pending=Exists(in_progress)).order_by("outlet__name", "id"))
