"""The approval engine (§9): opening cases with their steps, post designations, and acting on steps.

Every write runs in one transaction: the case row is locked first, then its steps in (order, id)
order, so two approvers on the same step serialise and the second is told the case has moved on
(R-APR-7). Every action writes one append-only CaseAction row (R-APR-8).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed

from approvals.chains import active_chains, chain_code_for
from approvals.conflicts import Claim, check_new_holders, claims_record, hq_lookup, interested_user_ids
from approvals.hooks import fire_case_decided
from approvals.models import (
    OPEN_CASE_STATUSES,
    ApprovalCase,
    CaseAction,
    CaseClaimant,
    CaseDocuments,
    CaseOutcome,
    CaseReason,
    CaseStatus,
    CaseStep,
    ChainStep,
    Post,
    PostAssignment,
    StepKind,
    StepState,
)
from approvals.notifications import notify_case_returned, notify_steps_waiting, notify_steps_waiting_atomic
from approvals.routing import CONFIRMING_SCOPES, deciding_order, plan_confirmations, routes_cross_region, staff_ids_of
from approvals.waiting import escalated_step_ids, handed_to_others
from common.actors import actor_user
from permissions.authority import belongs_elsewhere, is_hq_office
from permissions.models import Role, RoleKind
from relationships.audit import audit, audit_many
from relationships.models import Organisation, OrgKind, Relationship, Staff
from relationships.services import Share, check_can_attach, parse_ratio, relationship_create, validate_shares
from relationships.versions import relationship_end

DECISIONS = ("approve", "reject", "return")


def _moved_on() -> ValidationError:
    return ValidationError(_("The case has moved on: this step has already been decided or the case is no "
                             "longer pending. Reload the case to see its current state. [R-APR-7]"),
                           code="moved_on")


# --------------------------------------------------------------------------------------------------
# Opening cases and materialising their steps
# --------------------------------------------------------------------------------------------------

def _staff_id(row: dict) -> int:
    return int(row["staff_id"])


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
    steps = CaseStep.objects.bulk_create(_build_steps(created, by_case), batch_size=5000)
    _sync_current_step(created, steps)
    audit_many(actor=actor, action="approval_case.open", model_label="approvals.approvalcase", rows=[
        (c.pk, None, {"reason": c.reason, "type": c.type_id, "shares": c.proposed_shares}) for c in created])
    # R-APR-9: told after the unit commits, in a transaction of their own (the unit's statements stay constant).
    ids = [c.pk for c in created]
    transaction.on_commit(lambda: notify_steps_waiting_atomic(ids))
    return created


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


# --------------------------------------------------------------------------------------------------
# Post designations (R-APR-1)
# --------------------------------------------------------------------------------------------------

def post_assign(*, actor, post: str, organisation: Organisation, user, valid_from: dt.date,
                valid_to: dt.date | None = None, delegate_for: PostAssignment | None = None) -> PostAssignment:
    """R-APR-1: the branch head designates post holders at his branch (and a delegate for final approval);
    HQ names its reviewers (post "hq" at the head office)."""
    post = Post(post)
    if organisation.kind == OrgKind.HQ:
        if post != Post.HQ:
            raise ValidationError(_("At the head office only the HQ review post can be assigned."))
        if not is_hq_office(actor):
            raise PermissionDenied(_("Only the head office may name HQ reviewers."))
    else:
        if post == Post.HQ:
            raise ValidationError(_("The HQ review post can only be assigned at the head office."))
        is_branch_head = Role.objects.filter(user=actor, kind=RoleKind.BRANCH_HEAD,
                                             organisation_id=organisation.branch_id or 0).exists()
        if not (is_branch_head or is_hq_office(actor)):
            raise PermissionDenied(_("Only the head of this branch or the head office may designate post holders "
                                     "at %(org)s.") % {"org": organisation.name})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError(_("The end date cannot be before the start date."))
    if belongs_elsewhere(user, organisation):  # R-APR-10
        raise ValidationError(_("%(user)s belongs to another organisation and cannot be designated at %(org)s.")
                              % {"user": user.get_username(), "org": organisation.name}, code="other_organisation")
    if delegate_for is not None:
        if post != Post.FINAL_APPROVAL:
            raise ValidationError(_("A delegate can only be named for final approval. [R-APR-1]"))
        if (delegate_for.delegate_for_id is not None or delegate_for.post != post
                or delegate_for.organisation_id != organisation.pk):
            raise ValidationError(_("A delegate acts for a holder of the same post at the same organisation."))
        if delegate_for.user_id == user.pk:
            raise ValidationError(_("A holder cannot be his own delegate."))
        if valid_to is None:
            raise ValidationError(_("A delegation needs an end date."))
    with transaction.atomic():
        assignment = PostAssignment.objects.create(
            post=post, organisation=organisation, user=user, valid_from=valid_from, valid_to=valid_to,
            delegate_for=delegate_for, created_by=actor)
        audit(actor=actor, action="approval_post.assign", target=assignment, after={
            "post": post.value, "organisation": organisation.code, "user": user.get_username(),
            "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat() if valid_to else None,
            "delegate_for": delegate_for.user.get_username() if delegate_for else None})
    return assignment


def current_assignments(user, today: dt.date | None = None) -> list[PostAssignment]:
    """The posts `user` holds or deputises today (a delegation counts while its principal also holds)."""
    today = today or timezone.localdate()
    live = Q(valid_from__lte=today) & (Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    rows = PostAssignment.objects.filter(live, user=user).select_related("delegate_for")
    result = []
    for a in rows:
        p = a.delegate_for
        if p is not None and not (p.valid_from <= today and (p.valid_to is None or p.valid_to >= today)):
            continue
        result.append(a)
    return result


def _authority(assignments: Sequence[PostAssignment], step: CaseStep) -> tuple[bool, int | None]:
    """(may act, on behalf of user id): a direct holding wins over a delegation."""
    delegated = None
    for a in assignments:
        if a.post == step.post and a.organisation_id == step.organisation_id:
            if a.delegate_for_id is None:
                return True, None
            delegated = delegated or (a.delegate_for.user_id if a.delegate_for is not None else None)
    return (True, delegated) if delegated else (False, None)


# --------------------------------------------------------------------------------------------------
# Acting on a case
# --------------------------------------------------------------------------------------------------

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


def _end_target(*, actor, case: ApprovalCase) -> None:
    """End the case's target version on the case's date (exclusive), with its shares, audited (R-BR-1)."""
    on = case.opening_date or timezone.localdate()
    target = Relationship.objects.select_for_update().get(pk=case.target_relationship_id or 0)
    if target.effective_to is not None:
        raise ValidationError(_("The relationship this case ends already ended on %(date)s.")
                              % {"date": target.effective_to}, code="already_ended")
    action = "relationship.replace" if case.outcome == CaseOutcome.REPLACE else "relationship.end"
    relationship_end(actor=actor, relationship_id=target.pk, on=on, action=action,
                     reason=_("Approved case #%(id)s.") % {"id": case.pk})


def _complete(*, actor, case: ApprovalCase) -> Relationship | None:
    """Carry out the approved case's outcome: end the target version (`end`, `replace`), then create the
    approved relationship, effective from the opening date (R-MATCH-3/4/5). `end` creates nothing; a reassignment
    (R-STAFF-1) is carried out by its follower (`reservations.reassign.follow`), in this transaction."""
    if case.outcome == CaseOutcome.REASSIGN:
        return None
    if case.outcome in (CaseOutcome.END, CaseOutcome.REPLACE):
        _end_target(actor=actor, case=case)
        if case.outcome == CaseOutcome.END:
            return None
    if Relationship.objects.filter(customer_id=case.customer_id, type_id=case.type_id,
                                   effective_to__isnull=True).exists():
        raise ValidationError(_("The customer already holds an active %(type)s relationship; end it before "
                                "approving this case.") % {"type": case.type.name}, code="already_held")
    shares = _shares_from_rows(case.proposed_shares)
    try:
        return relationship_create(
            actor=actor, customer=case.customer, rel_type=case.type, shares=shares,
            effective_from=case.opening_date or timezone.localdate(), source="approval",
            outlet=case.opening_outlet, origin_event=case.opening_event)
    except IntegrityError:
        raise ValidationError(_("The customer already holds an active %(type)s relationship.")
                              % {"type": case.type.name}, code="already_held") from None


def _reroute(case: ApprovalCase, steps: list[CaseStep]) -> list[CaseStep]:
    """The confirmations and HQ step a change of holders calls for (R-MATCH-5), written before the case moves on."""
    if not routes_cross_region(case):
        return []
    claims = list(CaseClaimant.objects.filter(case=case).only("staff_id", "shares"))
    branch_of = dict(Staff.objects.filter(pk__in=staff_ids_of(case, claims)).values_list("id", "outlet__branch_id"))
    opening = case.branch_id
    if case.opening_outlet_id:
        opening = Organisation.objects.filter(pk=case.opening_outlet_id).values_list("branch_id", flat=True).first() \
            or opening
    added = plan_confirmations(case, steps, branches={b for b in branch_of.values() if b is not None},
                               opening_branch=opening, hq_id=hq_lookup())
    return CaseStep.objects.bulk_create(added) if added else []


def check_decision(decision: str, reason: str) -> str:
    """R-APR-4: a known decision; a reason to reject or return. Returns the stripped reason."""
    if decision not in DECISIONS:
        raise ValidationError(_("Unknown decision “%(d)s”.") % {"d": decision}, code="decision")
    reason = (reason or "").strip()
    if decision in ("reject", "return") and not reason:
        raise ValidationError({"reason": [_("A reason is required to reject or return a case. [R-APR-4]")]})
    return reason


def _acting_step(actor, case: ApprovalCase, steps: Sequence[CaseStep], today: dt.date,
                 step_id: int | None = None) -> tuple[CaseStep, int | None, list[CaseStep]]:
    """The step `actor` may act on now, for whom (a delegate's principal), and the pending steps; or the
    refusal (R-APR-3/7/9/10). The one predicate of "may act now": `case_act` and the case page both use it."""
    if case.status != CaseStatus.PENDING:
        raise _moved_on()
    if actor.pk in interested_user_ids(case):
        raise PermissionDenied(_("You may not decide a case in which you are or were the applicant, a claimant, "
                                 "a co-developer or a proposed holder. [R-APR-3]"))
    assignments = current_assignments(actor, today)
    waiting_ids = [s.pk for s in steps if s.state == StepState.PENDING]
    escalated = escalated_step_ids(actor, waiting_ids)  # R-APR-9: escalated to him
    handed = handed_to_others(actor, waiting_ids)  # R-APR-10: handed to another holder of his post
    mine = [(s, behalf) for s in steps for ok, behalf in [_authority(assignments, s)]
            if (ok and s.pk not in handed) or s.pk in escalated]
    if step_id is not None:
        mine = [(s, b) for s, b in mine if s.pk == step_id]
    if not mine:
        raise PermissionDenied(_("You do not currently hold the post this case needs (or a delegation for "
                                 "it) at the acting organisation. [R-APR-3]"))
    pending = [s for s in steps if s.state == StepState.PENDING]
    current_order = min(s.order for s in pending) if pending else None
    actionable = [(s, b) for s, b in mine if s.state == StepState.PENDING and s.order == current_order]
    if not actionable:
        if any(s.state == StepState.PENDING for s, _b in mine):
            waiting = _(", ").join(dict.fromkeys(s.get_post_display() for s in pending if s.order == current_order))
            raise ValidationError(_("This case is not at your step yet; it is waiting for %(posts)s.")
                                  % {"posts": waiting}, code="not_yet")
        raise _moved_on()
    step, behalf = actionable[0]
    persons = {actor.pk} | ({behalf} if behalf else set())
    for s in steps:
        if s.pk != step.pk and s.state == StepState.APPROVED and {s.decided_by_id, s.on_behalf_of_id} & persons:
            raise PermissionDenied(_("You already approved step %(order)d of this case; the same person may "
                                     "not approve two steps. [R-APR-3]") % {"order": s.order})
    return step, behalf, pending


def acting_step(user, case: ApprovalCase, steps: Sequence[CaseStep] | None = None) -> CaseStep | None:
    """The step `user` may act on now (None: no decision form for him). `steps` defaults to the case's."""
    if not getattr(user, "is_authenticated", False) or case.status != CaseStatus.PENDING:
        return None
    if steps is None:
        steps = list(CaseStep.objects.filter(case=case).order_by("order", "id"))
    try:
        step, _behalf, _pending = _acting_step(user, case, steps, timezone.localdate())
    except (ValidationError, PermissionDenied):
        return None
    return step


def may_change_holders(case: ApprovalCase, step: CaseStep | None, steps: Sequence[CaseStep]) -> bool:
    """R-APR-4: the final approver may change holders and ratios, when approving: the last pending step, or the
    case's own deciding step before the other branches' confirmations and HQ (R-MATCH-5)."""
    if step is None or case.outcome == CaseOutcome.END:
        return False
    return ([s.pk for s in steps if s.state == StepState.PENDING] == [step.pk]
            or step.order == deciding_order(list(steps)))


def case_act(*, actor, case_id: int, decision: str, reason: str = "", shares: list[dict] | None = None,
             documents: dict | None = None, step_id: int | None = None) -> ApprovalCase:
    """Approve, reject or return the step of `case_id` that `actor` holds (R-APR-3/4/5/7)."""
    reason = check_decision(decision, reason)
    today = timezone.localdate()
    with transaction.atomic():
        case, steps = _lock(case_id)
        step, behalf, pending = _acting_step(actor, case, steps, today, step_id)
        persons = {actor.pk} | ({behalf} if behalf else set())
        is_last = decision == "approve" and len(pending) == 1
        before = list(case.proposed_shares)
        added: list[CaseStep] = []
        if shares is not None:
            if case.outcome == CaseOutcome.END:
                raise ValidationError(_("A case that ends a relationship has no holders to change."))
            if not (decision == "approve" and (is_last or step.order == deciding_order(steps))):
                raise PermissionDenied(_("Only the final approver, when approving, may change holders and "
                                         "ratios. [R-APR-4]"))
            case.proposed_shares = _clean_shares(case, shares)
            check_new_holders(case=case, steps=steps, shares=case.proposed_shares, persons=persons)
            added = _reroute(case, steps)  # R-MATCH-5: another branch's staff brought in → its confirmation, HQ
            is_last = is_last and not added
        if documents:
            if not needs_documents(case):
                raise ValidationError(_("Only broker development cases need these documents."))
            _write_documents(actor=actor, case=case, documents=documents)

        now = timezone.now()
        step.decided_by_id, step.on_behalf_of_id, step.decided_at = actor.pk, behalf, now
        relationship = None
        ended = False
        if decision == "approve":
            step.state = StepState.APPROVED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            if is_last:
                if needs_documents(case):
                    docs = CaseDocuments.objects.filter(case=case).first()
                    if docs is None or not docs.complete:
                        raise ValidationError(_(
                            "A broker development case can be approved only after the risk disclosure form and the "
                            "customer service confirmation are recorded as received and reviewed. [R-APR-5]"),
                            code="documents")
                _transition(case, "approve")
                _save(case, ["status", "proposed_shares"])
                relationship = _complete(actor=actor, case=case)
                ended = True
            else:
                case.current_step = min(s.order for s in [*pending, *added] if s.pk != step.pk)
                _save(case, ["current_step", "proposed_shares"])
                notify_steps_waiting([case.pk])
        elif decision == "reject":
            step.state = StepState.REJECTED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            CaseStep.objects.filter(case=case, state=StepState.PENDING).update(state=StepState.SKIPPED)
            _transition(case, "reject")
            _save(case, ["status"])
            ended = True
        else:
            step.state = StepState.RETURNED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            _transition(case, "return_for_correction")
            _save(case, ["status"])
            notify_case_returned(case)
        CaseAction.objects.create(
            case=case, step_order=step.order, post=step.post, actor=actor, on_behalf_of_id=behalf,
            decision=decision, reason=reason, before={"shares": before}, after={"shares": case.proposed_shares})
        if ended:
            fire_case_decided(case, relationship=relationship, actor=actor)
    return case


def is_case_applicant(user, case: ApprovalCase) -> bool:
    """The staff applicant, or the user who filed a case without one (branch-created, core list)."""
    if user is None or not getattr(user, "pk", None):
        return False
    if case.applicant is not None and case.applicant.user_id == user.pk:
        return True
    return case.filed_by_id is not None and case.filed_by_id == user.pk


def _require_applicant(actor, case: ApprovalCase) -> None:
    if not is_case_applicant(actor, case):
        raise PermissionDenied(_("Only the applicant may do this."))


def case_withdraw(*, actor, case_id: int) -> ApprovalCase:
    """R-APR-4: the applicant may withdraw before the final step."""
    with transaction.atomic():
        case, steps = _lock(case_id)
        _require_applicant(actor, case)
        if case.status not in OPEN_CASE_STATUSES:
            raise _moved_on()
        last_order = max((s.order for s in steps), default=1)
        if case.status == CaseStatus.PENDING and case.current_step >= last_order:
            raise ValidationError(_("The case has reached its final step and can no longer be withdrawn. "
                                    "[R-APR-4]"), code="final_step")
        if CaseClaimant.objects.filter(case=case).exclude(staff_id=case.applicant_id or 0).exists():
            # R-MATCH-3 / R-APR-3: one claimant may not end the other claimants' claims by withdrawing their case.
            raise ValidationError(_("This case also holds other staff members' claims, so one claimant cannot "
                                    "withdraw it; it is decided by its approvers. [R-MATCH-3]"), code="claimants")
        _transition(case, "withdraw")
        _save(case, ["status"])
        CaseStep.objects.filter(case=case, state=StepState.PENDING).update(state=StepState.SKIPPED)
        CaseAction.objects.create(case=case, step_order=case.current_step, actor=actor, decision="withdraw",
                                  before={"status": "pending"}, after={"status": case.status})
        fire_case_decided(case, relationship=None, actor=actor)
    return case


def case_resubmit(*, actor, case_id: int, shares: list[dict] | None = None,
                  explanation: str | None = None) -> ApprovalCase:
    """The applicant corrects a returned case; its chain starts again from the first step."""
    with transaction.atomic():
        case, _steps = _lock(case_id)
        _require_applicant(actor, case)
        if case.status != CaseStatus.RETURNED:
            raise _moved_on()
        before = list(case.proposed_shares)
        if shares is not None:
            if case.outcome == CaseOutcome.END:
                raise ValidationError(_("A case that ends a relationship has no holders to change."))
            case.proposed_shares = _clean_shares(case, shares)
        if explanation is not None:
            case.explanation = explanation
            case.explanation_params = {**(case.explanation_params or {}), "note": explanation}
        # Holders may have changed (cross-region participants), so the steps are resolved again
        # from the case's own chain version; the history stays in CaseAction.
        CaseStep.objects.filter(case=case).delete()
        claims = list(CaseClaimant.objects.filter(case=case).only("staff_id", "shares"))
        new_steps = CaseStep.objects.bulk_create(_build_steps([case], {case.pk: claims}))
        case.current_step = min(s.order for s in new_steps)
        _transition(case, "resubmit")
        _save(case, ["status", "proposed_shares", "explanation", "explanation_params", "current_step"])
        notify_steps_waiting([case.pk])
        CaseAction.objects.create(case=case, step_order=case.current_step, actor=actor, decision="resubmit",
                                  before={"shares": before}, after={"shares": case.proposed_shares})
    return case


def may_record_documents(user, case: ApprovalCase, today: dt.date | None = None) -> bool:
    if case.applicant is not None and case.applicant.user_id == user.pk:
        return False
    if user.pk in interested_user_ids(case):  # R-APR-3: no claimant, co-developer or holder acts on the case
        return False
    org_ids = set(CaseStep.objects.filter(case=case).values_list("organisation_id", flat=True))
    org_ids |= {i for i in (case.branch_id, case.opening_outlet_id) if i}
    if any(a.organisation_id in org_ids for a in current_assignments(user, today)):
        return True
    return user.is_superuser or Role.objects.filter(user=user).filter(
        Q(kind__in=(RoleKind.HQ, RoleKind.HQ_REVIEWER))
        | Q(kind__in=(RoleKind.BRANCH, RoleKind.BRANCH_HEAD), organisation_id=case.branch_id)
        | Q(kind__in=(RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF), organisation_id=case.opening_outlet_id)).exists()


def case_record_documents(*, actor, case_id: int, documents: dict) -> CaseDocuments:
    """R-APR-5: record the broker case's forms as received / reviewed (by the branch, never the applicant)."""
    with transaction.atomic():
        case, _steps = _lock(case_id)
        if not needs_documents(case):
            raise ValidationError(_("Only broker development cases need these documents."))
        if case.status not in OPEN_CASE_STATUSES:
            raise _moved_on()
        if not may_record_documents(actor, case):
            raise PermissionDenied(_("Only the branch handling this case may record its documents."))
        return _write_documents(actor=actor, case=case, documents=documents)
