"""Pages of §8: branch-created relationships (R-BR-1) and core lists (R-CORE-1/2/3). Thin: parse with a form,
call the service or a scoped read (`permissions.scoping`, R-PERM-4: a row outside one's scope answers 404)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from approvals.models import ApprovalCase
from common.feedlines import refusal_text
from common.forms import add_service_errors
from common.pagination import CappedPaginator
from permissions.authority import acting_branches
from permissions.scoping import visible_branch_requests, visible_core_lines, visible_relationship_history
from relationships.models import Organisation, Relationship, Staff
from relationships.types import core_type
from reservations.branch.core_lists import (
    branch_core_relationships,
    core_list_remove,
    core_list_submit,
    core_month_refusal,
)
from reservations.branch.feed import core_line_from_row, parse_core_csv, parse_participants
from reservations.branch.forms import (
    BranchRequestForm,
    CoreLineFormSet,
    CoreRemoveForm,
    CoreUploadForm,
    EndRelationshipForm,
    ReplaceForm,
)
from reservations.branch.requests import (
    BranchRequestInput,
    branch_relationship_end,
    branch_request_create,
    branch_request_replace,
)

PAGE_SIZE = 50


def _require_branch_user(request) -> list[Organisation]:
    branches = acting_branches(request.user)
    if not branches:
        raise PermissionDenied(_("Only branch users can do this."))
    return branches


@login_required
def branch_requests(request):
    qs = (visible_branch_requests(request.user)
          .select_related("customer", "type", "branch", "requested_by", "old_relationship", "new_relationship")
          .order_by("-requested_at", "-id"))
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    cases = dict(ApprovalCase.objects.filter(branch_request__in=list(page.object_list))
                 .values_list("branch_request_id", "pk"))
    for r in page.object_list:
        r.case_id = cases.get(r.pk)
    return render(request, "branch/requests.html", {
        "page_obj": page, "can_create": bool(acting_branches(request.user))})


@login_required
@require_http_methods(["GET", "POST"])
def branch_request_new(request):
    branches = _require_branch_user(request)
    branch = branches[0]
    if len(branches) > 1 and request.POST.get("branch"):
        branch = next((b for b in branches if str(b.pk) == request.POST["branch"]), branch)
    if request.method == "POST":
        form = BranchRequestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                participants = parse_participants(data["participants"], _staff_by_no(data["participants"]))
                req = branch_request_create(actor=request.user, branch=branch, data=BranchRequestInput(
                    id_number=data["id_number"], type_code=data["relationship_type"].code,
                    participants=participants, effective_from=data["effective_from"], reason=data["reason"]))
            except (ValidationError, PermissionDenied) as exc:
                add_service_errors(form, exc, fields={"id_number", "participants", "relationship_type",
                                                      "effective_from"})
            else:
                messages.success(request, _("The request has been sent to the branch's designated approver."))
                return redirect("work:customer", pk=req.customer_id)
    else:
        form = BranchRequestForm(initial={"effective_from": timezone.localdate()})
    return render(request, "branch/request_form.html", {"form": form, "branches": branches,
                                                             "title": _("New branch-created relationship")})


def _staff_by_no(text: str) -> dict[str, Staff]:
    numbers = {p.partition(":")[0].strip() for p in (text or "").split(";") if p.strip()}
    return {s.staff_no: s for s in Staff.objects.select_related("outlet").filter(staff_no__in=numbers)}


def _branch_relationship(request, pk: int) -> Relationship:
    return get_object_or_404(visible_relationship_history(request.user).select_related(
        "customer", "type", "outlet"), pk=pk, type__creation="branch", effective_to__isnull=True)


@login_required
@require_http_methods(["GET", "POST"])
def relationship_replace(request, pk: int):
    rel = _branch_relationship(request, pk)
    if request.method == "POST":
        form = ReplaceForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                branch_request_replace(actor=request.user, relationship_id=rel.pk,
                                       participants=parse_participants(data["participants"],
                                                                       _staff_by_no(data["participants"])),
                                       effective_from=data["effective_from"], reason=data["reason"])
            except (ValidationError, PermissionDenied) as exc:
                add_service_errors(form, exc, fields={"participants", "effective_from"})
            else:
                messages.success(request, _("The replacement has been sent for approval; the current version "
                                            "ends on %(date)s if it is approved.") % {"date": data["effective_from"]})
                return redirect("work:customer", pk=rel.customer_id)
    else:
        current = ";".join(f"{s.staff.staff_no}:{s.ratio.normalize()}" for s in rel.shares.filter(
            effective_to__isnull=True).select_related("staff"))
        form = ReplaceForm(initial={"participants": current, "effective_from": timezone.localdate()})
    return render(request, "branch/request_form.html", {"form": form, "relationship": rel,
                                                             "title": _("Replace a relationship")})


@login_required
@require_http_methods(["GET", "POST"])
def relationship_end_view(request, pk: int):
    rel = _branch_relationship(request, pk)
    if request.method == "POST":
        form = EndRelationshipForm(request.POST)
        if form.is_valid():
            try:
                branch_relationship_end(actor=request.user, relationship_id=rel.pk, on=form.cleaned_data["on"],
                                        reason=form.cleaned_data["reason"])
            except (ValidationError, PermissionDenied) as exc:
                add_service_errors(form, exc, fields={"reason", "on"})
            else:
                messages.success(request, _("The end of the relationship has been sent for approval; it stays active "
                                            "until it is approved."))
                return redirect("work:customer", pk=rel.customer_id)
    else:
        form = EndRelationshipForm(initial={"on": timezone.localdate()})
    return render(request, "branch/request_form.html", {"form": form, "relationship": rel,
                                                             "title": _("End a relationship")})


# --- core lists -------------------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def core_list(request):
    """R-CORE-1/2/3: submit the branch's core list (form rows or a file); see every line's fate."""
    branches = acting_branches(request.user)
    branch = branches[0] if branches else None
    if len(branches) > 1 and request.POST.get("branch"):
        branch = next((b for b in branches if str(b.pk) == request.POST["branch"]), branch)
    formset = CoreLineFormSet(prefix="line")
    upload = CoreUploadForm()
    if request.method == "POST":
        if branch is None:
            raise PermissionDenied(_("Only branch users submit core lists."))
        lines, filename, source = None, "", "form"
        if "file" in request.FILES:
            upload = CoreUploadForm(request.POST, request.FILES)
            if upload.is_valid():
                f = upload.cleaned_data["file"]
                try:
                    lines, filename, source = parse_core_csv(f.read()), f.name, "file"
                except ValidationError as exc:
                    upload.add_error("file", exc.messages)
        else:
            formset = CoreLineFormSet(request.POST, prefix="line")
            if formset.is_valid():
                lines, core = [], core_type().code
                for n, row in enumerate(formset.cleaned_data, start=1):
                    if row.get("id_number") or row.get("staff_no"):
                        lines.append(core_line_from_row(n, {"id_number": row.get("id_number", ""),
                                                            "participants": row.get("staff_no", "")}, core=core))
        if lines is not None:
            try:
                result = core_list_submit(actor=request.user, branch=branch, lines=lines, source=source,
                                          filename=filename)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("%(ok)d line(s) sent to the head office, %(bad)d refused.") % {
                    "ok": result.accepted, "bad": len(result.refused)})
                for line, reason in result.refused:
                    messages.error(request, _("Line %(line)d: %(reason)s") % {"line": line, "reason": reason})
                return redirect("work:core")
    qs = (visible_core_lines(request.user)
          .select_related("submission__branch", "advisor", "customer", "relationship")
          .order_by("-submission__submitted_at", "-submission_id", "line_no"))
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    cases = dict(ApprovalCase.objects.filter(core_line__in=list(page.object_list)).values_list("core_line_id", "pk"))
    for ln in page.object_list:
        ln.case_id = cases.get(ln.pk)
    core_customers = list(branch_core_relationships(request.user)[:500]) if branches else []
    return render(request, "core/list.html", {
        "page_obj": page, "formset": formset, "upload": upload, "branches": branches, "branch": branch,
        "month_problem": core_month_refusal(timezone.localdate()), "core_customers": core_customers,
        "remove_form": CoreRemoveForm()})


@login_required
@require_POST
def core_remove(request, pk: int):
    """R-CORE-3: ask HQ to take a customer off the branch's core list (January and July only)."""
    rel = get_object_or_404(branch_core_relationships(request.user), pk=pk)  # another branch's: 404 (R-PERM-4)
    form = CoreRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("work:core")
    try:
        core_list_remove(actor=request.user, relationship_id=rel.pk, reason=form.cleaned_data["reason"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, _("The removal has been sent to the head office; the customer stays on the core "
                                    "list until it is approved."))
    return redirect("work:core")
