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
from approvals.filters import CaseFilter
from approvals.forms import DecisionForm, DocumentsForm, ResubmitForm
from approvals.models import OPEN_CASE_STATUSES, ApprovalCase, CaseDocuments, CaseStatus
from approvals.services import (
    case_act,
    case_record_documents,
    case_resubmit,
    case_withdraw,
    is_case_applicant,
    may_record_documents,
    needs_documents,
)
from approvals.tables import CaseTable, HQCaseTable, InboxStepTable
from common.tables import configure, table_page

INBOX_PAGE_SIZE = 50


@login_required
def inbox(request):
    """Steps waiting for the user and, for HQ reviewers, the pending cross-region / special-new cases (R-APR-6):
    two tables paged 50 at a time with a capped count, every row reachable. Each table has its own prefix so
    their `page` and `sort` parameters do not collide."""
    # Only the joins the table shows (issue 18): with the selector's seven, planning the page cost more than
    # running it.
    waiting = selectors.inbox_for(request.user).select_related(None).select_related(
        "organisation", "case__customer", "case__type", "case__applicant")
    steps = configure(InboxStepTable(waiting, prefix="steps-"), request, per_page=INBOX_PAGE_SIZE)
    hq_cases = configure(HQCaseTable(selectors.hq_inbox(request.user), prefix="hq-"), request,
                         per_page=INBOX_PAGE_SIZE) if selectors.is_hq_reviewer(request.user) else None
    return render(request, "approvals/inbox.html", {"steps": steps, "hq_cases": hq_cases})


@login_required
def case_list(request):
    """Every case in the user's scope (R-PERM-4), filtered, sorted, 50 a page with a capped count;
    `?_export=csv|xlsx` exports the same rows (masked IDs only, R-PII-1)."""
    return table_page(request, queryset=selectors.visible_cases(request.user)
                      .select_related("customer", "type", "branch", "applicant"),
                      table_class=CaseTable, filterset_class=CaseFilter, basename="approval_cases",
                      template="approvals/cases.html")


def _case_or_404(user, pk: int) -> ApprovalCase:
    try:
        return selectors.case_detail(user, pk)
    except ApprovalCase.DoesNotExist:
        raise Http404(_("No such approval case.")) from None


def _render_case(request, case, *, decision_form=None, documents_form=None, resubmit_form=None, status=None):
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
    return render(request, "approvals/case.html", {
        "case": case,
        "is_broker": broker,
        "docs": docs,
        "decision_form": decision_form or DecisionForm(),
        "documents_form": documents_form or DocumentsForm(initial=docs.as_dict() if docs else None),
        "resubmit_form": resubmit_form or ResubmitForm(),
        "can_act": case.status == CaseStatus.PENDING and not is_applicant,
        "can_record_documents": can_record,
        "can_withdraw": is_applicant and (case.status == CaseStatus.RETURNED or (
            case.status == CaseStatus.PENDING and case.current_step < last_order)),
        "can_resubmit": is_applicant and case.status == CaseStatus.RETURNED,
    }, status=status)


@login_required
def case_page(request, pk: int):
    return _render_case(request, _case_or_404(request.user, pk))


def _refusal(exc) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


@login_required
@require_POST
def case_decide(request, pk: int):
    case = _case_or_404(request.user, pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            case_act(actor=request.user, case_id=case.pk, decision=form.cleaned_data["decision"],
                     reason=form.cleaned_data["reason"], shares=form.cleaned_data["shares"],
                     step_id=form.cleaned_data["step_id"])
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, msgs in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, msgs)
            else:
                form.add_error(None, exc.messages)
        except PermissionDenied as exc:
            form.add_error(None, _refusal(exc))
        else:
            messages.success(request, _("Your decision has been recorded."))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), decision_form=form, status=400)


@login_required
@require_POST
def case_documents(request, pk: int):
    case = _case_or_404(request.user, pk)
    form = DocumentsForm(request.POST)
    if form.is_valid():
        try:
            case_record_documents(actor=request.user, case_id=case.pk, documents=form.documents())
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _refusal(exc))
        else:
            messages.success(request, _("The documents have been recorded."))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), documents_form=form, status=400)


@login_required
@require_POST
def case_withdraw_view(request, pk: int):
    case = _case_or_404(request.user, pk)
    try:
        case_withdraw(actor=request.user, case_id=case.pk)
    except (ValidationError, PermissionDenied) as exc:
        for msg in _refusal(exc):
            messages.error(request, msg)
    else:
        messages.success(request, _("The case has been withdrawn."))
    return redirect("approvals:case", pk=case.pk)


@login_required
@require_POST
def case_resubmit_view(request, pk: int):
    case = _case_or_404(request.user, pk)
    form = ResubmitForm(request.POST)
    if form.is_valid():
        try:
            case_resubmit(actor=request.user, case_id=case.pk, shares=form.cleaned_data["shares"],
                          explanation=form.cleaned_data["explanation"] or None)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _refusal(exc))
        else:
            messages.success(request, _("The case has been resubmitted."))
            return redirect("approvals:case", pk=case.pk)
    return _render_case(request, _case_or_404(request.user, pk), resubmit_form=form, status=400)
