"""Approval pages. Thin: parse with a form, call the service or a scoped selector, render (R-PERM-4: 404
outside scope)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals import selectors
from approvals.evidence import conflict_evidence
from approvals.filters import CaseFilter, InboxFilter
from approvals.forms import DecisionForm, DocumentsForm, HolderFormSet, ResubmitForm, holder_initial, same_shares
from approvals.models import (
    CLAIM_REASONS,
    OPEN_CASE_STATUSES,
    ApprovalCase,
    CaseDocuments,
    CaseReason,
    CaseStatus,
    CaseStep,
)
from approvals.preview import case_preview
from approvals.services import (
    acting_step,
    case_act,
    case_record_documents,
    case_resubmit,
    case_withdraw,
    check_decision,
    is_case_applicant,
    may_change_holders,
    may_record_documents,
    needs_documents,
)
from approvals.tables import CaseTable, EscalatedStepTable, HQCaseTable, InboxStepTable
from approvals.waiting import escalated_to, escalation_heads, with_waiting
from approvals.words import decision_message, holder_totals
from common.forms import add_service_errors
from common.tables import SortedPagePaginator, configure, table_page
from relationships.reassignment import reassignment_of_case

INBOX_PAGE_SIZE = 50
HOLDERS = "holders"      # the final approver's holder rows
RESUBMIT = "resubmit"    # the applicant's corrected holder rows
CONFIRMED_DECISIONS = ("reject", "return")


# Issue 18: a list page builds a few hundred model instances; each costs what it holds, so the rows read only the
# columns their table (and export) shows: a case's proposed shares, explanation and evidence are never read there.
CASE_ROW_FIELDS = ("reason", "type_id", "customer_id", "status", "current_step", "branch_id", "applicant_id",
                   "created_at", "customer__name", "customer__id_masked", "type__name", "type__name_en",
                   "branch__name", "applicant__name", "applicant__staff_no")


def _inbox_rows(ids):
    """The inbox page's steps by id, with what its table shows."""
    return with_waiting(CaseStep.objects.filter(pk__in=ids).select_related(
        "organisation", "case__customer", "case__type", "case__applicant", "case__branch").only(
        "case_id", "order", "post", "organisation_id", "organisation__name",
        *(f"case__{name}" for name in CASE_ROW_FIELDS)))


@login_required
def inbox(request):
    """Steps waiting for the user and, for HQ reviewers, the pending cross-region / special-new cases (R-APR-6):
    two tables paged 50 at a time with a capped count, every row reachable. Each table has its own prefix so
    their `page` and `sort` parameters do not collide."""
    # Issue 18: the waiting time is computed per step, so a page sorts every waiting step. One query sorts them with
    # only the joins the filters need and counts them on the way; a second reads the page's 50 with the joins the
    # table shows (sorting and planning every row with those joins cost more than the rest of the page).
    waiting = selectors.inbox_for(request.user).select_related(None)
    filters = InboxFilter(request.GET or None, queryset=with_waiting(waiting), request=request)
    steps = configure(InboxStepTable(filters.qs, prefix="steps-"), request, per_page=INBOX_PAGE_SIZE,
                      paginator_class=SortedPagePaginator, rows_for=_inbox_rows)
    escalated = escalated_to(request.user)
    escalated_table = configure(EscalatedStepTable(escalated, prefix="esc-"), request, per_page=INBOX_PAGE_SIZE) \
        if escalation_heads(request.user) else None
    hq_cases = configure(HQCaseTable(selectors.hq_inbox(request.user), prefix="hq-"), request,
                         per_page=INBOX_PAGE_SIZE) if selectors.is_hq_reviewer(request.user) else None
    return render(request, "approvals/inbox.html", {"steps": steps, "filters": filters, "hq_cases": hq_cases,
                                                    "escalated": escalated_table})


@login_required
def case_list(request):
    """Every case in the user's scope (R-PERM-4), filtered, sorted, 50 a page with a capped count;
    `?_export=csv|xlsx` exports the same rows (masked IDs only, R-PII-1)."""
    return table_page(request, queryset=selectors.visible_cases(request.user)
                      .select_related("customer", "type", "branch", "applicant").only(*CASE_ROW_FIELDS),
                      table_class=CaseTable, filterset_class=CaseFilter, basename="approval_cases",
                      template="approvals/cases.html")


def _case_or_404(user, pk: int) -> ApprovalCase:
    try:
        return selectors.case_detail(user, pk)
    except ApprovalCase.DoesNotExist:
        raise Http404(_("No such approval case.")) from None


def _holder_formset(case, data=None, *, prefix=HOLDERS, recalculate=False):
    """The holder rows, picked among the eligible staff (R-ATT-1); unbound, they show the current proposal.
    `recalculate` (the no-JavaScript button): the rows as typed, unbound, with blank rows added."""
    eligible = selectors.eligible_holders(case)
    if data is not None and recalculate:
        bound = HolderFormSet(data, prefix=prefix, eligible=eligible)
        rows = [{"staff": f["staff"].value(), "ratio": f["ratio"].value()} for f in bound.forms]
        rows = [r for r in rows if r["staff"] or (r["ratio"] or "").strip()]
        return HolderFormSet(prefix=prefix, eligible=eligible, initial=rows)
    if data is not None:
        return HolderFormSet(data, prefix=prefix, eligible=eligible)
    return HolderFormSet(prefix=prefix, eligible=eligible, initial=holder_initial(case.proposed_shares))


def _edited_shares(formset) -> list[dict] | None:
    """The holder rows as the service would get them; None while a row is incomplete or invalid."""
    if formset.is_bound:
        return formset.shares() if formset.is_valid() else None
    rows = [r for r in formset.initial or [] if r.get("staff") or (r.get("ratio") or "").strip()]
    if any(not r.get("staff") or not (r.get("ratio") or "").strip() for r in rows):
        return None
    return [{"staff_id": r["staff"], "ratio": r["ratio"]} for r in rows]


def _preview(case, formset) -> dict | None:
    staff = {s.pk: s for s in formset.eligible} | {s.pk: s for s, _ratio in case.holder_rows if s is not None}
    return case_preview(case, _edited_shares(formset), staff)


def _render_case(request, case, *, decision_form=None, documents_form=None, resubmit_form=None,
                 holder_formset=None, resubmit_formset=None, status=None):
    user = request.user
    is_applicant = is_case_applicant(user, case)
    broker = needs_documents(case)
    try:
        docs = case.documents if broker else None
    except CaseDocuments.DoesNotExist:
        docs = None
    can_record = broker and case.status in OPEN_CASE_STATUSES and \
        may_record_documents(user, case)
    last_order = max((s.order for s in case.step_list), default=1)
    step = acting_step(user, case, case.step_list)
    edits_holders = may_change_holders(case, step, case.step_list)
    if edits_holders and holder_formset is None:
        holder_formset = _holder_formset(case)
    can_resubmit = is_applicant and case.status == CaseStatus.RETURNED
    if can_resubmit and resubmit_formset is None:
        resubmit_formset = _holder_formset(case, prefix=RESUBMIT)
    return render(request, "approvals/case.html", {
        "case": case,
        "conflict": conflict_evidence(user, case) if case.reason in CLAIM_REASONS else None,  # R-MATCH-3
        "reassignment": reassignment_of_case(case.dedupe_key) if case.reason == CaseReason.REASSIGNMENT else None,
        "is_broker": broker,
        "docs": docs,
        "decision_form": decision_form or DecisionForm(initial={"step_id": step.pk if step else None}),
        "documents_form": documents_form or DocumentsForm(initial=docs.as_dict() if docs else None),
        "resubmit_form": resubmit_form or ResubmitForm(),
        "acting_step": step,
        "can_act": step is not None,
        "holder_formset": holder_formset if edits_holders else None,
        "holder_summary": holder_totals(holder_formset) if edits_holders else None,
        "preview": _preview(case, holder_formset) if edits_holders else None,
        "resubmit_formset": resubmit_formset if can_resubmit else None,
        "resubmit_summary": holder_totals(resubmit_formset) if can_resubmit else None,
        "can_record_documents": can_record,
        "can_withdraw": is_applicant and (case.status == CaseStatus.RETURNED or (
            case.status == CaseStatus.PENDING and case.current_step < last_order)),
        "can_resubmit": can_resubmit,
    }, status=status)


@login_required
def case_page(request, pk: int):
    return _render_case(request, _case_or_404(request.user, pk))


@login_required
@require_POST
def holders_summary(request, pk: int):
    """The holder editor's live total and remainder (htmx fragment; R-RES-4) and, for the final approver, the
    preview of what each holder would be credited."""
    case = _case_or_404(request.user, pk)
    prefix = RESUBMIT if request.POST.get("_rows") == RESUBMIT else HOLDERS
    formset = _holder_formset(case, request.POST, prefix=prefix)
    preview = None
    if prefix == HOLDERS and may_change_holders(case, acting_step(request.user, case, case.step_list),
                                                case.step_list):
        preview = _preview(case, formset)
    return render(request, "approvals/_holder_summary.html", {"summary": holder_totals(formset), "preview": preview})


def _confirm(request, case, *, action: str, fields: dict):
    """The confirmation page before a reject, return or withdraw (works without JavaScript)."""
    return render(request, "approvals/confirm.html", {"case": case, "action": action, "fields": fields})


@login_required
@require_POST
def case_decide(request, pk: int):
    case = _case_or_404(request.user, pk)
    step = acting_step(request.user, case, case.step_list)
    form = DecisionForm(request.POST)
    decision = request.POST.get("decision", "")
    # Holder rows count only for the final approver's approval (R-APR-4); a reject or return ignores them.
    formset = None
    recalculate = "_recalculate" in request.POST   # without JavaScript: the total and blank rows, nothing decided
    posted_rows = f"{HOLDERS}-TOTAL_FORMS" in request.POST   # a client that posts no rows keeps the proposal
    if may_change_holders(case, step, case.step_list) and posted_rows and (decision == "approve" or recalculate):
        formset = _holder_formset(case, request.POST, recalculate=recalculate)
    if recalculate:
        return _render_case(request, case, decision_form=DecisionForm(initial={
            k: request.POST.get(k, "") for k in ("decision", "reason", "step_id")}), holder_formset=formset)
    if form.is_valid() and (formset is None or formset.is_valid()):
        data = form.cleaned_data
        shares = formset.shares() if formset is not None else None
        if shares is not None and same_shares(shares, case.proposed_shares):
            shares = None
        try:
            reason = check_decision(data["decision"], data["reason"])
            if data["decision"] in CONFIRMED_DECISIONS and not data["confirmed"]:
                return _confirm(request, case, action=data["decision"], fields={
                    "decision": data["decision"], "reason": reason, "step_id": data["step_id"] or ""})
            decided = case_act(actor=request.user, case_id=case.pk, decision=data["decision"], reason=reason,
                               shares=shares, step_id=data["step_id"])
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, decision_message(decided, data["decision"]))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), decision_form=form, holder_formset=formset,
                        status=400)


@login_required
@require_POST
def case_documents(request, pk: int):
    case = _case_or_404(request.user, pk)
    form = DocumentsForm(request.POST)
    if form.is_valid():
        try:
            case_record_documents(actor=request.user, case_id=case.pk, documents=form.documents())
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The documents have been recorded."))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), documents_form=form, status=400)


@login_required
@require_POST
def case_withdraw_view(request, pk: int):
    case = _case_or_404(request.user, pk)
    if request.POST.get("confirmed") != "1":
        return _confirm(request, case, action="withdraw", fields={})
    try:
        decided = case_withdraw(actor=request.user, case_id=case.pk)
    except (ValidationError, PermissionDenied) as exc:
        for msg in (exc.messages if isinstance(exc, ValidationError) else [str(exc)]):
            messages.error(request, msg)
    else:
        messages.success(request, decision_message(decided, "withdraw"))
    return redirect("approvals:case", pk=case.pk)


@login_required
@require_POST
def case_resubmit_view(request, pk: int):
    case = _case_or_404(request.user, pk)
    form = ResubmitForm(request.POST)
    if "_recalculate" in request.POST:
        return _render_case(request, case, resubmit_form=ResubmitForm(initial={
            "explanation": request.POST.get("explanation", "")}), resubmit_formset=_holder_formset(
            case, request.POST, prefix=RESUBMIT, recalculate=True))
    formset = _holder_formset(case, request.POST, prefix=RESUBMIT)
    if form.is_valid() and formset.is_valid():
        shares = formset.shares()
        try:
            decided = case_resubmit(actor=request.user, case_id=case.pk,
                                    shares=None if same_shares(shares, case.proposed_shares) else shares,
                                    explanation=form.cleaned_data["explanation"] or None)
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, decision_message(decided, "resubmit"))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), resubmit_form=form, resubmit_formset=formset,
                        status=400)
