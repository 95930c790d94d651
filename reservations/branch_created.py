"""Branch-created relationships and core lists (§8).

**R-BR-1** The branch creates, replaces and ends `EXISTING_DEV`, `MAINTENANCE` and `KEY_SERVICE` (the
types whose `creation` is `branch`, R-TYPE-1) with participants and ratios (R-RES-4, R-ATT-1):

- *create* opens a 1-level case (`branch_created`, chain `one_level`: the branch designated person);
  on approval the approval engine creates the relationship, effective from the requested date;
- *replace* opens the same case (outcome `replace`) for the new version; the current version stays
  active while the case is pending. On approval the engine ends the current version on the new
  version's start date and creates the new one, in the transaction of the final approval (one active
  relationship per customer and type is checked then). Every version keeps its validity dates;
- *end* opens the same case (outcome `end`) with its date and reason; the relationship stays active
  while pending and the engine ends it (and its open shares, audited) on approval.
A rejected or withdrawn request changes nothing. The branch user who filed a request may correct and
resubmit, or withdraw, the returned case (`ApprovalCase.filed_by`).

**R-CORE-1/2/3** The branch submits its core-customer list (form, file upload or the `relationships`
feed); every line is checked on submission — account open at least 12 months, natural new customer
(no active development relationship), an investment advisor with a valid investment-consulting
qualification and open attach permission, one advisor per customer, at most 100 core customers per
advisor counting those he holds and those under review — and each accepted line becomes one case on
the `core_list` chain (HQ), so HQ approves or rejects line by line. Submissions are accepted only in
January and July (calendar month of the submission).
Removing a customer from the list is a change too (`core_list_remove`): January and July only, with a
reason, as a `core_list` case with outcome `end` on the `CORE_SERVICE` relationship, ended on HQ approval.

Requests and lines find their cases by the case's `dedupe_key` (`branch_request:<id>`,
`core_line:<id>`); `on_case_decided` keeps them in step with the decision.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from approvals.models import ApprovalCase, CaseOutcome, CaseReason, CaseStatus
from approvals.services import case_open
from permissions.models import Role, RoleKind
from relationships.audit import audit
from relationships.identity import normalise_id_number
from relationships.models import (Account, BranchRequest, BranchRequestKind, BranchRequestStatus, CoreLineStatus,
                                  CoreListLine, CoreListSubmission, Customer, Organisation, Relationship,
                                  RelationshipShare, RelationshipType, Staff)
from relationships.pii import mask_id, pii_hashes
from relationships.services import Share, attach_refusal, check_can_attach, parse_ratio, validate_shares
from relationships.versions import relationship_reopen
from reservations.secondary import customer_branch_ids

BRANCH_ROLES = (RoleKind.BRANCH, RoleKind.BRANCH_HEAD)
CORE = "CORE_SERVICE"
CORE_MONTHS = (1, 7)
CORE_MAX_PER_ADVISOR = 100
CORE_MIN_OPEN_MONTHS = 12
# "Development" relationships (开发关系): a customer holding one is not a natural new customer (R-CORE-1).
DEVELOPMENT_TYPES = ("NEW_DEV", "SECONDARY_DEV", "CREDIT_DEV", "REPURCHASE_DEV", "BROKER_DEV", "EXISTING_DEV")
BRANCH_REQUEST_KEY = "branch_request:"
CORE_LINE_KEY = "core_line:"
CORE_REMOVE_KEY = "core_remove:"


# --------------------------------------------------------------------------------------------------
# Authority
# --------------------------------------------------------------------------------------------------

def is_hq(user) -> bool:
    return bool(user.is_superuser or Role.objects.filter(user=user, kind=RoleKind.HQ).exists())


def branch_ids_of(user) -> set[int] | None:
    """Branches where `user` acts for the branch (branch user or head); None = every branch (HQ)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if is_hq(user):
        return None
    return set(Role.objects.filter(user=user, kind__in=BRANCH_ROLES).values_list("organisation_id", flat=True))


def _require_branch(actor, branch_id: int) -> None:
    if actor is None or isinstance(actor, str):  # feeds and batch: the operator is trusted
        return
    allowed = branch_ids_of(actor)
    if allowed is not None and branch_id not in allowed:
        raise PermissionDenied(_("Only the branch itself (or the head office) may do this."))


def _user(actor):
    return None if actor is None or isinstance(actor, str) else actor


# --------------------------------------------------------------------------------------------------
# R-BR-1 branch-created relationships
# --------------------------------------------------------------------------------------------------

def branch_types():
    return RelationshipType.objects.filter(creation="branch")


@dataclass
class BranchRequestInput:
    id_number: str
    type_code: str
    participants: Sequence[tuple[Staff, object]]     # (staff, ratio text or Decimal)
    effective_from: dt.date
    reason: str = ""
    source: str = "form"


def _clean_shares(rel_type: RelationshipType, branch_id: int, participants, on: dt.date) -> list[Share]:
    errors: list[str] = []
    shares: list[Share] = []
    for staff, ratio in participants:
        try:
            shares.append(Share(staff, parse_ratio(ratio)))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"participants": errors})
    try:
        validate_shares(rel_type, shares)
        check_can_attach(shares, rel_type, on)
    except ValidationError as exc:
        raise ValidationError({"participants": exc.messages})
    outside = [s.staff for s in shares if s.staff.outlet.branch_id != branch_id]
    if outside:
        raise ValidationError({"participants": [_(
            "%(staff)s is not staff of this branch.") % {"staff": ", ".join(str(s) for s in outside)}]})
    return shares


def _customer(id_number: str) -> Customer:
    try:
        normalised = normalise_id_number(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages})
    customer = Customer.objects.filter(id_hash__in=pii_hashes(normalised)).first()
    if customer is None:
        raise ValidationError({"id_number": [_("No customer with this ID card number is known to the platform.")]})
    return customer


def _no_case_in_progress(customer: Customer, rel_type: RelationshipType) -> None:
    if (ApprovalCase.objects.filter(customer=customer, type=rel_type,
                                    status__in=[CaseStatus.PENDING, CaseStatus.RETURNED]).exists()
            or BranchRequest.objects.filter(customer=customer, type=rel_type,
                                            status=BranchRequestStatus.PENDING).exists()):
        raise ValidationError({"id_number": [_(
            "A request for this customer's %(type)s relationship is already waiting for approval.")
            % {"type": rel_type.name}]})


def _open_case(*, actor, req: BranchRequest, shares: list[Share], outlet) -> ApprovalCase:
    verb = {BranchRequestKind.CREATE: _("Create"), BranchRequestKind.REPLACE: _("Replace"),
            BranchRequestKind.END: _("End")}[req.kind]
    outcome = {BranchRequestKind.CREATE: CaseOutcome.CREATE, BranchRequestKind.REPLACE: CaseOutcome.REPLACE,
               BranchRequestKind.END: CaseOutcome.END}[req.kind]
    case = case_open(
        actor=actor, reason=CaseReason.BRANCH_CREATED, rel_type=req.type, customer=req.customer,
        proposed_shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares],
        dedupe_key=req.dedupe_key, branch=req.branch, applicant=None, outcome=outcome,
        target_relationship=req.old_relationship if outcome != CaseOutcome.CREATE else None,
        explanation=(_("End %(type)s on %(date)s, requested by the branch. [R-BR-1]") if outcome == CaseOutcome.END
                     else _("%(verb)s %(type)s from %(date)s, requested by the branch. [R-BR-1]")) % {
            "verb": verb, "type": req.type.name, "date": req.effective_from}
                    + (f"\n{req.reason}" if req.reason else ""))
    # The engine creates the relationship from the case's date and outlet (`opening_date`, `opening_outlet`).
    ApprovalCase.objects.filter(pk=case.pk).update(opening_date=req.effective_from, opening_outlet=outlet)
    return case


def branch_request_create(*, actor, branch: Organisation, data: BranchRequestInput) -> BranchRequest:
    """R-BR-1: a new branch-created relationship, through the 1-level chain."""
    _require_branch(actor, branch.pk)
    rel_type = branch_types().filter(code=data.type_code).first()
    if rel_type is None:
        raise ValidationError({"relationship_type": [_(
            "“%(code)s” is not a relationship type the branch creates.") % {"code": data.type_code}]})
    customer = _customer(data.id_number)
    if branch.pk not in customer_branch_ids([customer.pk]).get(customer.pk, set()):
        raise ValidationError({"id_number": [_("The customer has no account at an outlet of %(branch)s.")
                                             % {"branch": branch.name}]})
    shares = _clean_shares(rel_type, branch.pk, data.participants, data.effective_from)
    current = Relationship.objects.filter(customer=customer, type=rel_type, effective_to__isnull=True) \
        .select_related("outlet").first()
    if current is not None:
        raise ValidationError({"id_number": [_(
            "This customer already holds a %(type)s relationship, with %(outlet)s: replace it instead.") % {
            "type": rel_type.name, "outlet": current.outlet.name if current.outlet else "—"}]})
    with transaction.atomic():
        _no_case_in_progress(customer, rel_type)
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.CREATE, customer=customer, type=rel_type, branch=branch,
            shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares],
            effective_from=data.effective_from, reason=data.reason.strip(), requested_by=_user(actor),
            source=data.source)
        _open_case(actor=actor, req=req, shares=shares, outlet=shares[0].staff.outlet)
        audit(actor=actor, action="branch_request.create", target=req, after={
            "kind": req.kind, "type": rel_type.code, "effective_from": data.effective_from.isoformat(),
            "shares": req.shares})
    return req


def _branch_relationship(relationship_id: int) -> Relationship:
    rel = (Relationship.objects.select_for_update(of=("self",)).select_related("type", "outlet", "customer")
           .get(pk=relationship_id))
    if rel.type.creation != "branch":
        raise ValidationError(_("Only branch-created relationship types can be replaced here."))
    if rel.effective_to is not None:
        raise ValidationError(_("This relationship version has already ended."))
    return rel


def branch_request_replace(*, actor, relationship_id: int, participants, effective_from: dt.date,
                           reason: str = "", source: str = "form") -> BranchRequest:
    """R-BR-1: a new version (holders, ratios) from `effective_from`, through the 1-level chain; the current
    version stays active until the case is approved, then ends that day (in the approving transaction)."""
    with transaction.atomic():
        rel = _branch_relationship(relationship_id)
        branch_id = rel.outlet.branch_id
        _require_branch(actor, branch_id)
        if effective_from < rel.effective_from:
            raise ValidationError({"effective_from": [_(
                "The new version cannot start before the current one (%(date)s).") % {"date": rel.effective_from}]})
        shares = _clean_shares(rel.type, branch_id, participants, effective_from)
        _no_case_in_progress(rel.customer, rel.type)
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.REPLACE, customer=rel.customer, type=rel.type, branch_id=branch_id,
            shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares], effective_from=effective_from,
            old_relationship=rel, reason=reason.strip(), requested_by=_user(actor), source=source)
        _open_case(actor=actor, req=req, shares=shares, outlet=rel.outlet)
        audit(actor=actor, action="branch_request.create", target=req, after={
            "kind": req.kind, "type": rel.type.code, "old": rel.pk, "effective_from": effective_from.isoformat(),
            "shares": req.shares})
    return req


def branch_relationship_end(*, actor, relationship_id: int, on: dt.date, reason: str,
                            source: str = "form") -> BranchRequest:
    """R-BR-1: the branch asks to end a branch-created relationship on `on` (exclusive), with a reason, through
    the 1-level chain; it stays active until the case is approved, and the engine ends it then."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for ending the relationship.")]})
    with transaction.atomic():
        rel = _branch_relationship(relationship_id)
        _require_branch(actor, rel.outlet.branch_id)
        if on < rel.effective_from:
            raise ValidationError({"on": [_("A relationship cannot end before it started (%(date)s).")
                                          % {"date": rel.effective_from}]})
        if (BranchRequest.objects.filter(customer=rel.customer, type=rel.type,
                                         status=BranchRequestStatus.PENDING).exists()
                or ApprovalCase.objects.filter(customer=rel.customer, type=rel.type,
                                               status__in=[CaseStatus.PENDING, CaseStatus.RETURNED]).exists()):
            raise ValidationError(_("A request for this relationship is waiting for approval."))
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.END, customer=rel.customer, type=rel.type, branch_id=rel.outlet.branch_id,
            shares=[], effective_from=on, old_relationship=rel, reason=reason, requested_by=_user(actor),
            source=source)
        _open_case(actor=actor, req=req, shares=[], outlet=rel.outlet)
        audit(actor=actor, action="branch_request.end", target=req, after={"relationship": rel.pk,
                                                                           "on": on.isoformat(), "reason": reason})
    return req


# --------------------------------------------------------------------------------------------------
# R-CORE-1/2/3 core lists
# --------------------------------------------------------------------------------------------------

def months_before(day: dt.date, months: int) -> dt.date:
    year, month = day.year, day.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def core_month_refusal(on: dt.date) -> str | None:
    if on.month in CORE_MONTHS:
        return None
    return _("Core lists can be changed only in January and July; this submission is dated %(date)s. "
             "[R-CORE-3]") % {"date": on}


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
        if rel is None or rel.type_id != CORE:
            raise ValidationError(_("Only a core-customer (%(code)s) relationship can be removed from the core "
                                    "list.") % {"code": CORE})
        if rel.effective_to is not None:
            raise ValidationError(_("This relationship version has already ended."))
        branch_id = rel.outlet.branch_id if rel.outlet else None
        _require_branch(actor, branch_id)
        if (ApprovalCase.objects.filter(customer=rel.customer, type=rel.type,
                                        status__in=[CaseStatus.PENDING, CaseStatus.RETURNED]).exists()
                or CoreListLine.objects.filter(customer=rel.customer, status=CoreLineStatus.PENDING).exists()):
            raise ValidationError(_("A request for this relationship is waiting for approval."))
        advisors = ", ".join(str(s.staff) for s in rel.shares.filter(effective_to__isnull=True)
                             .select_related("staff"))
        case = case_open(
            actor=actor, reason=CaseReason.CORE_LIST, rel_type=rel.type, customer=rel.customer,
            proposed_shares=[], dedupe_key=f"{CORE_REMOVE_KEY}{rel.pk}:{timezone.now().strftime('%Y%m%d%H%M%S%f')}",
            branch=rel.outlet.branch if rel.outlet else None, applicant=None, outcome=CaseOutcome.END,
            target_relationship=rel,
            explanation=_("Remove from the core list of %(branch)s: %(advisor)s, requested by the branch on "
                          "%(date)s. [R-CORE-3]") % {
                "branch": rel.outlet.branch.name if rel.outlet else "—", "advisor": advisors or "—", "date": today}
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
    _require_branch(actor, branch.pk)
    submitted_at = submitted_at or timezone.now()
    today = timezone.localtime(submitted_at).date()
    month_problem = core_month_refusal(today)
    if month_problem:
        raise ValidationError(month_problem, code="core_month")
    if not lines:
        raise ValidationError(_("The list has no lines."), code="empty")
    rel_type = RelationshipType.objects.get(code=CORE)
    cutoff = months_before(today, CORE_MIN_OPEN_MONTHS)
    result = CoreResult(submission=None)
    with transaction.atomic():
        submission = CoreListSubmission.objects.create(branch=branch, submitted_by=_user(actor),
                                                       submitted_at=submitted_at, source=source, filename=filename)
        result.submission = submission
        staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet").filter(
            staff_no__in={ln.staff_no for ln in lines if ln.staff_no})}
        # Counting per advisor must not race another submission: lock the advisors first, in id order.
        advisor_ids = sorted(s.pk for s in staff_by_no.values())
        list(Staff.objects.select_for_update().filter(pk__in=advisor_ids).order_by("pk").values_list("pk"))
        held = Counter(dict(RelationshipShare.objects.filter(
            staff_id__in=advisor_ids, effective_to__isnull=True, relationship__type_id=CORE,
            relationship__effective_to__isnull=True).values_list("staff_id").annotate(n=Count("id"))))
        held.update(dict(CoreListLine.objects.filter(advisor_id__in=advisor_ids, status=CoreLineStatus.PENDING)
                         .values_list("advisor_id").annotate(n=Count("id"))))
        for ln in lines:
            problem, customer, advisor, masked = _core_line_problem(ln, branch, rel_type, staff_by_no, held, cutoff,
                                                                    today)
            line = CoreListLine(submission=submission, line_no=ln.line_no, customer=customer, id_masked=masked,
                                advisor=advisor, advisor_no=ln.staff_no[:32], effective_from=ln.effective_from)
            if problem is None:
                line.status = CoreLineStatus.PENDING
                try:
                    with transaction.atomic():
                        line.save()
                except IntegrityError:  # another submission took this customer a moment ago
                    problem = _("The customer is already on a core list under review (one advisor per core "
                                "customer). [R-CORE-1]")
                    line.pk = None
                else:
                    held[advisor.pk] += 1
                    case = case_open(
                        actor=actor, reason=CaseReason.CORE_LIST, rel_type=rel_type, customer=customer,
                        proposed_shares=[{"staff_id": advisor.pk, "ratio": "1.0000"}], dedupe_key=line.dedupe_key,
                        branch=branch, applicant=None,
                        explanation=_("Core list of %(branch)s, line %(line)d: %(advisor)s. [R-CORE-2]") % {
                            "branch": branch.name, "line": ln.line_no, "advisor": advisor})
                    ApprovalCase.objects.filter(pk=case.pk).update(
                        opening_date=ln.effective_from, opening_outlet=advisor.outlet)
                    result.accepted += 1
            if problem is not None:
                line.status, line.reason = CoreLineStatus.REFUSED, problem
                line.save()
                result.refused.append((ln.line_no, problem))
        audit(actor=actor, action="core_list.submit", target=submission, after={
            "branch": branch.code, "source": source, "accepted": result.accepted, "refused": len(result.refused)})
    return result


def _core_line_problem(ln: CoreLineInput, branch, rel_type, staff_by_no, held: Counter, cutoff: dt.date,
                       today: dt.date):
    """(problem or None, customer, advisor, masked id) of one line (R-CORE-1)."""
    if ln.error:
        return ln.error, None, None, ""
    try:
        id_number = normalise_id_number(ln.id_number)
    except ValidationError as exc:
        return " ".join(exc.messages), None, None, ""
    masked = mask_id(id_number)
    customer = Customer.objects.filter(id_hash__in=pii_hashes(id_number)).first()
    advisor = staff_by_no.get(ln.staff_no)
    if customer is None:
        return _("No customer with this ID card number is known to the platform."), None, advisor, masked
    if advisor is None:
        return _("There is no staff member with number %(no)s.") % {"no": ln.staff_no}, customer, None, masked
    if advisor.outlet.branch_id != branch.pk:
        return _("%(staff)s is not staff of this branch.") % {"staff": advisor}, customer, advisor, masked
    refusal = attach_refusal(advisor, rel_type, today)
    if refusal:  # investment advisor, investment-consulting qualification, open attach permission (R-CORE-1)
        return refusal + " [R-CORE-1]", customer, advisor, masked
    if branch.pk not in customer_branch_ids([customer.pk]).get(customer.pk, set()):
        return _("The customer has no account at an outlet of %(branch)s.") % {"branch": branch.name}, \
            customer, advisor, masked
    if not Account.objects.filter(customer=customer, closed_at__isnull=True,
                                  opened_at__date__lte=cutoff).exists():
        return _("The customer's account has not been open for 12 months (opened after %(date)s). [R-CORE-1]") % {
            "date": cutoff}, customer, advisor, masked
    dev = (Relationship.objects.filter(customer=customer, type_id__in=DEVELOPMENT_TYPES, effective_to__isnull=True)
           .select_related("type").first())
    if dev is not None:
        return _("The customer holds a %(type)s relationship, so he is not a natural new customer. [R-CORE-1]") % {
            "type": dev.type.name}, customer, advisor, masked
    core = Relationship.objects.filter(customer=customer, type_id=CORE, effective_to__isnull=True) \
        .select_related("outlet").first()
    if core is not None:
        return _("The customer is already a core customer, with %(outlet)s (one advisor per core customer). "
                 "[R-CORE-1]") % {"outlet": core.outlet.name if core.outlet else "—"}, customer, advisor, masked
    if CoreListLine.objects.filter(customer=customer, status=CoreLineStatus.PENDING).exists():
        return _("The customer is already on a core list under review (one advisor per core customer). "
                 "[R-CORE-1]"), customer, advisor, masked
    if held[advisor.pk] >= CORE_MAX_PER_ADVISOR:
        return _("%(staff)s already has %(n)d core customers (held or under review); the limit is %(max)d. "
                 "[R-CORE-1]") % {"staff": advisor, "n": held[advisor.pk], "max": CORE_MAX_PER_ADVISOR}, \
            customer, advisor, masked
    return None, customer, advisor, masked


CORE_CSV_COLUMNS = ("id_number", "relationship_type", "participants", "effective_from")


def parse_participants(text: str, staff_by_no: dict[str, Staff]) -> list[tuple[Staff, str]]:
    """§12 participants: `;`-separated `staff_no:ratio` (a bare staff number means ratio 1)."""
    parts = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        no, sep, ratio = part.partition(":")
        staff = staff_by_no.get(no.strip())
        if staff is None:
            raise ValidationError(_("participant “%(p)s” must be staff_no:ratio of a known staff member.")
                                  % {"p": part})
        parts.append((staff, ratio.strip() if sep else "1"))
    if not parts:
        raise ValidationError(_("participants are required."))
    return parts


def parse_core_csv(content: bytes) -> list[CoreLineInput]:
    """A core list file in the §12 `relationships` format (relationship_type `CORE_SERVICE`); errors per line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("The file is not UTF-8 text."))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("id_number", "participants") if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    lines = []
    for row in reader:
        row = {k: (v or "").strip() for k, v in row.items() if k}
        lines.append(core_line_from_row(reader.line_num, row))
    return lines


def core_line_from_row(line_no: int, row: dict) -> CoreLineInput:
    ln = CoreLineInput(line_no=line_no, id_number=row.get("id_number", ""), staff_no="")
    rtype = row.get("relationship_type", CORE) or CORE
    if rtype != CORE:
        ln.error = _("relationship_type must be %(code)s on a core list.") % {"code": CORE}
        return ln
    parts = [p.strip() for p in row.get("participants", "").split(";") if p.strip()]
    if len(parts) != 1:
        ln.error = _("A core customer has exactly one advisor (participants: one staff_no, ratio 1). [R-CORE-1]")
        return ln
    no, sep, ratio = parts[0].partition(":")
    ln.staff_no = no.strip()
    if sep and ratio.strip() and _decimal_or_none(ratio) != 1:
        ln.error = _("A core customer's advisor holds ratio 1. [R-CORE-1]")
    if row.get("effective_from"):
        day = parse_date(row["effective_from"]) if _looks_like_date(row["effective_from"]) else None
        if day is None:
            ln.error = _("effective_from “%(v)s” is not a YYYY-MM-DD date.") % {"v": row["effective_from"]}
        ln.effective_from = day
    return ln


def _decimal_or_none(text: str):
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return None


def _looks_like_date(text: str) -> bool:
    try:
        return parse_date(text) is not None
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------------
# Following the cases
# --------------------------------------------------------------------------------------------------

def branch_cases_decided(case, *, relationship, actor) -> None:
    """Requests and core lines follow their case (runs inside the deciding transaction)."""
    key = case.dedupe_key or ""
    if key.startswith(BRANCH_REQUEST_KEY):
        req = BranchRequest.objects.select_for_update().filter(pk=int(key[len(BRANCH_REQUEST_KEY):])).first()
        if req is None or req.status != BranchRequestStatus.PENDING:
            return
        if case.status == CaseStatus.APPROVED:
            req.status, req.new_relationship = BranchRequestStatus.APPROVED, relationship
            if req.kind in (BranchRequestKind.END, BranchRequestKind.REPLACE) and req.old_relationship_id \
                    and not req.ended_share_ids:
                # The engine ended the old version on the request's date: remember which shares it closed.
                req.ended_share_ids = list(RelationshipShare.objects.filter(
                    relationship_id=req.old_relationship_id, effective_to=req.effective_from)
                    .values_list("id", flat=True))
        else:
            req.status = (BranchRequestStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                          else BranchRequestStatus.REJECTED)
            if req.kind == BranchRequestKind.REPLACE and req.old_relationship_id and req.ended_share_ids:
                # Only a replacement filed before ends were decided on approval had ended the old version.
                relationship_reopen(actor=actor, relationship_id=req.old_relationship_id,
                                    share_ids=list(req.ended_share_ids or []),
                                    reason=_("The replacement (request #%(id)s) was not approved.") % {"id": req.pk})
        req.save(update_fields=["status", "new_relationship", "ended_share_ids"])
        audit(actor=actor, action="branch_request.decided", target=req, after={
            "status": req.status, "case": case.pk, "relationship": relationship.pk if relationship else None})
    elif key.startswith(CORE_LINE_KEY):
        line = CoreListLine.objects.select_for_update().filter(pk=int(key[len(CORE_LINE_KEY):])).first()
        if line is None or line.status != CoreLineStatus.PENDING:
            return
        if case.status == CaseStatus.APPROVED:
            line.status, line.relationship = CoreLineStatus.APPROVED, relationship
        else:
            line.status = (CoreLineStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                           else CoreLineStatus.REJECTED)
        line.save(update_fields=["status", "relationship"])
        audit(actor=actor, action="core_line.decided", target=line, after={
            "status": line.status, "case": case.pk, "relationship": relationship.pk if relationship else None})


# --------------------------------------------------------------------------------------------------
# The `relationships` feed (§12): id_number,relationship_type,participants,effective_from
# --------------------------------------------------------------------------------------------------

def load_relationships(actor, rows, result) -> None:
    """`manage.py load_feed relationships FILE`: branch-created lines enter the 1-level chain like the form;
    `CORE_SERVICE` lines form one core list per advisor's branch (R-CORE-1/3 checked per line)."""
    from reservations.feeds import LineError, _first_message

    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet__branch")}
    kinds = dict(RelationshipType.objects.values_list("code", "creation"))
    core_by_branch: dict[int, list[CoreLineInput]] = {}
    branches: dict[int, Organisation] = {}
    for line, row in rows:
        try:
            code = row.get("relationship_type", "")
            if code not in kinds:
                raise LineError(_("relationship_type “%(code)s” is not known.") % {"code": code})
            if kinds[code] == "core_list":
                ln = core_line_from_row(line, row)
                advisor = staff_by_no.get(ln.staff_no)
                if ln.error:
                    raise LineError(ln.error)
                if advisor is None:
                    raise LineError(_("There is no staff member with number %(no)s.") % {"no": ln.staff_no})
                branches[advisor.outlet.branch_id] = advisor.outlet.branch
                core_by_branch.setdefault(advisor.outlet.branch_id, []).append(ln)
                continue
            if kinds[code] != "branch":
                raise LineError(_("%(code)s relationships are not created from this file.") % {"code": code})
            try:
                participants = parse_participants(row.get("participants", ""), staff_by_no)
            except ValidationError as exc:
                raise LineError(" ".join(exc.messages))
            day = parse_date(row.get("effective_from", "")) if _looks_like_date(row.get("effective_from", "")) else None
            if day is None:
                raise LineError(_("effective_from “%(v)s” is not a YYYY-MM-DD date.") % {"v": row.get("effective_from")})
            with transaction.atomic():
                branch_request_create(actor=actor, branch=participants[0][0].outlet.branch, data=BranchRequestInput(
                    id_number=row.get("id_number", ""), type_code=code, participants=participants,
                    effective_from=day, source="feed"))
            result.rows_loaded += 1
        except LineError as exc:
            result.errors.append((line, str(exc)))
        except ValidationError as exc:
            result.errors.append((line, _first_message(exc)))
        except PermissionDenied as exc:
            result.errors.append((line, str(exc)))
    for branch_id, lines in core_by_branch.items():
        try:
            with transaction.atomic():
                outcome = core_list_submit(actor=actor, branch=branches[branch_id], lines=lines, source="feed",
                                           filename=getattr(result, "filename", ""))
        except ValidationError as exc:  # R-CORE-3: the whole list is refused outside January and July
            result.errors.extend((ln.line_no, " ".join(exc.messages)) for ln in lines)
            continue
        result.rows_loaded += outcome.accepted
        result.errors.extend(outcome.refused)
    result.errors.sort()
