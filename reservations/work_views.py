"""Pages of secondary development (§7), branch-created relationships and core lists (§8), callbacks (§11)
and the customer's relationship history. Thin: parse with a form, call the service or a scoped read
(`permissions.scoping`, R-PERM-4: a row outside one's scope answers 404), render.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, F, OuterRef, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from approvals.models import ApprovalCase
from relationships.selectors import current_staff
from common.pagination import CappedPaginator
from permissions.scoping import (visible_branch_requests, visible_callbacks, visible_core_lines,
                                 visible_customer_classes, visible_history_customers, visible_organisations,
                                 visible_preassignments, visible_relationship_history, visible_reservations)
from relationships.callbacks import callback_record, dispute_resolve
from relationships.models import (FRONT_KINDS, CallbackStatus, CustomerClass, OrgKind, Organisation, PreAssignment,
                                  PreAssignmentStatus, Relationship, RelationshipShare, Staff)
from reservations.branch_created import (BranchRequestInput, branch_ids_of, branch_relationship_end,
                                         branch_request_create, branch_request_replace, core_line_from_row,
                                         core_list_remove, core_list_submit, core_month_refusal, parse_core_csv,
                                         parse_participants)
from reservations.forms import CoDeveloperFormSet, co_developers
from reservations.models import OPEN_STATUSES, Reservation
from reservations.secondary import (SECONDARY, SpecialNewInput, assigning_branch_ids, preassign, preassignment_end,
                                    secondary_reserve, special_new_apply, special_new_type)
from reservations.views import place_reservation_errors
from reservations.work_forms import (CallbackResultForm, ClassFilterForm, CoreLineFormSet, CoreRemoveForm,
                                     CoreUploadForm, BranchRequestForm, EndAssignmentForm, EndRelationshipForm,
                                     PreassignForm, ReplaceForm, ResolveForm, SecondaryReserveForm, SpecialNewForm)

PAGE_SIZE = 50


def _require_staff(request) -> Staff:
    staff = current_staff(request.user)
    if staff is None:
        raise PermissionDenied(_("Only marketing staff can do this."))
    return staff


def _branches(user) -> list[Organisation]:
    """The branches `user` acts for (HQ: all)."""
    ids = branch_ids_of(user)
    qs = Organisation.objects.filter(kind=OrgKind.BRANCH).order_by("code")
    return list(qs if ids is None else qs.filter(pk__in=ids))


def _place_errors(exc: ValidationError, form, fields) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, msgs in exc.message_dict.items():
        form.add_error(key if key in fields else None, msgs)


# --------------------------------------------------------------------------------------------------
# §7 classified customers and pre-assignment (branch)
# --------------------------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def classified_list(request):
    """R-SEC-4/6: the branch's lost / dormant / silent customers, filterable, with bulk pre-assignment."""
    allowed = assigning_branch_ids(request.user)
    if allowed is not None and not allowed:
        raise PermissionDenied(_("Only branch users pre-assign customers."))
    staff_qs = Staff.objects.filter(kind__in=FRONT_KINDS, attach_open=True).select_related("outlet")
    if allowed is not None:
        staff_qs = staff_qs.filter(outlet__branch_id__in=allowed)
    staff_qs = staff_qs.order_by("outlet__code", "staff_no")
    if request.method == "POST":
        form = PreassignForm(request.POST, staff_qs=staff_qs)
        ids = [int(i) for i in request.POST.getlist("customer") if i.isdigit()]
        visible = set(visible_customer_classes(request.user).filter(
            ended_on__isnull=True, customer_id__in=ids).values_list("customer_id", flat=True))
        if not ids:
            form.add_error(None, _("Select at least one customer."))
        if form.is_valid() and ids:
            try:
                result = preassign(actor=request.user, customer_ids=[i for i in ids if i in visible],
                                   staff=form.cleaned_data["staff"], replace=form.cleaned_data["replace"])
            except ValidationError as exc:
                form.add_error("staff", exc.messages)
            else:
                for cid in set(ids) - visible:
                    result.refused[cid] = _("Not found.")
                if result.assigned:
                    messages.success(request, _("%(n)d customer(s) pre-assigned to %(staff)s.") % {
                        "n": len(result.assigned), "staff": form.cleaned_data["staff"]})
                masked = dict(CustomerClass.objects.filter(customer_id__in=result.refused)
                              .values_list("customer_id", "customer__id_masked"))
                for cid, reason in result.refused.items():
                    messages.error(request, f"{masked.get(cid, cid)}: {reason}")
                return redirect(f"{request.path}?{request.GET.urlencode()}")
    else:
        form = PreassignForm(staff_qs=staff_qs)
    outlets = visible_organisations(request.user).filter(kind=OrgKind.OUTLET).order_by("code")
    filters = ClassFilterForm(request.GET or None, outlets=outlets)
    active = PreAssignment.objects.filter(customer_id=OuterRef("customer_id"), status=PreAssignmentStatus.ACTIVE)
    qs = (visible_customer_classes(request.user).filter(ended_on__isnull=True)
          .select_related("customer", "outlet", "outlet__branch")
          .annotate(assigned=Exists(active))
          .prefetch_related(Prefetch("customer__preassignments", to_attr="active_assignments",
                                     queryset=PreAssignment.objects.filter(status=PreAssignmentStatus.ACTIVE)
                                     .select_related("staff__outlet"))))
    if filters.is_valid():
        data = filters.cleaned_data
        if data["kind"]:
            qs = qs.filter(kind=data["kind"])
        if data["assigned"] == "no":
            qs = qs.filter(assigned=False)
        elif data["assigned"] == "yes":
            qs = qs.filter(assigned=True)
        if data["outlet"]:
            qs = qs.filter(outlet=data["outlet"])
        if data["since_from"]:
            qs = qs.filter(since__gte=data["since_from"])
    page = CappedPaginator(qs.order_by("-since", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "secondary/classified.html", {
        "page_obj": page, "filters": filters, "form": form, "query": query.urlencode(),
        "own_branches": allowed})


@login_required
def assignment_list(request):
    """The branch's (or outlet's, or HQ's) pre-assignments, with their outcome."""
    status = request.GET.get("status", PreAssignmentStatus.ACTIVE)
    qs = (visible_preassignments(request.user).select_related("customer", "staff__outlet", "classification",
                                                               "relationship")
          .order_by("-assigned_at", "-id"))
    if status in PreAssignmentStatus.values:
        qs = qs.filter(status=status)
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "secondary/assignments.html", {
        "page_obj": page, "status": status, "statuses": PreAssignmentStatus.choices,
        "query": f"status={status}", "end_form": EndAssignmentForm(),
        "can_end": assigning_branch_ids(request.user) != set()})


@login_required
@require_POST
def assignment_end(request, pk: int):
    a = get_object_or_404(visible_preassignments(request.user), pk=pk)
    form = EndAssignmentForm(request.POST)
    form.is_valid()
    try:
        preassignment_end(actor=request.user, assignment_id=a.pk, note=form.cleaned_data.get("note", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The pre-assignment has been ended."))
    return redirect("work:assignments")


# --------------------------------------------------------------------------------------------------
# §7 the assignee: his customers, reserving; special new
# --------------------------------------------------------------------------------------------------

@login_required
def my_assignments(request):
    """R-SEC-4: the assignee's pre-assigned customers and whether he has reserved them."""
    staff = _require_staff(request)
    open_res = Reservation.objects.filter(staff_id=staff.pk, type_id=SECONDARY, id_hash=OuterRef("customer__id_hash"),
                                          status__in=OPEN_STATUSES)
    qs = (visible_preassignments(request.user).filter(staff=staff)
          .select_related("customer", "classification", "classification__outlet", "relationship")
          .annotate(reserved=Exists(open_res)).order_by("status", "-assigned_at", "-id"))
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "secondary/mine.html", {"page_obj": page})


@login_required
@require_http_methods(["GET", "POST"])
def assignment_reserve(request, pk: int):
    staff = _require_staff(request)
    a = get_object_or_404(visible_preassignments(request.user).filter(staff=staff)
                          .select_related("customer", "classification"), pk=pk)
    if request.method == "POST":
        form = SecondaryReserveForm(request.POST)
        formset = CoDeveloperFormSet(request.POST, prefix="co")
        if form.is_valid() and formset.is_valid():
            participants = [(staff, form.cleaned_data["own_ratio"])] + co_developers(formset)
            try:
                r = secondary_reserve(actor=request.user, assignment_id=a.pk, staff=staff,
                                      phone=form.cleaned_data["phone"], participants=participants)
            except ValidationError as exc:
                place_reservation_errors(exc, form, formset)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Reservation registered; valid until %(date)s.") % {"date": r.valid_until})
                return redirect("reservations:detail", pk=r.pk)
    else:
        form = SecondaryReserveForm()
        formset = CoDeveloperFormSet(prefix="co")
    return render(request, "secondary/reserve.html", {"assignment": a, "form": form, "formset": formset})


@login_required
@require_http_methods(["GET", "POST"])
def special_new(request):
    """R-SEC-5: a lost / dormant / silent customer developed without a pre-assignment."""
    staff = _require_staff(request)
    if request.method == "POST":
        form = SpecialNewForm(request.POST)
        formset = CoDeveloperFormSet(request.POST, prefix="co")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            participants = [(staff, data["own_ratio"])] + co_developers(formset)
            try:
                r = special_new_apply(actor=request.user, data=SpecialNewInput(
                    staff=staff, customer_name=data["customer_name"], id_number=data["id_number"],
                    phone=data["phone"], explanation=data["explanation"], participants=participants))
            except ValidationError as exc:
                place_reservation_errors(exc, form, formset)
            else:
                messages.success(request, _("The special-new application has been sent for approval."))
                return redirect("reservations:detail", pk=r.pk)
    else:
        form = SpecialNewForm()
        formset = CoDeveloperFormSet(prefix="co")
    return render(request, "secondary/special_new.html", {
        "form": form, "formset": formset, "type_code": special_new_type(staff)})


# --------------------------------------------------------------------------------------------------
# §8 branch-created relationships
# --------------------------------------------------------------------------------------------------

def _require_branch_user(request) -> list[Organisation]:
    branches = _branches(request.user)
    if not branches:
        raise PermissionDenied(_("Only branch users can do this."))
    return branches


@login_required
def branch_requests(request):
    qs = (visible_branch_requests(request.user)
          .select_related("customer", "type", "branch", "requested_by", "old_relationship", "new_relationship")
          .order_by("-requested_at", "-id"))
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    keys = [f"branch_request:{r.pk}" for r in page.object_list]
    cases = dict(ApprovalCase.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", "pk"))
    for r in page.object_list:
        r.case_id = cases.get(f"branch_request:{r.pk}")
    return render(request, "branch/requests.html", {
        "page_obj": page, "can_create": bool(_branches(request.user))})


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
            except ValidationError as exc:
                _place_errors(exc, form, {"id_number", "participants", "relationship_type", "effective_from"})
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
            except ValidationError as exc:
                _place_errors(exc, form, {"participants", "effective_from"})
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
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
            except ValidationError as exc:
                _place_errors(exc, form, {"reason", "on"})
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The end of the relationship has been sent for approval; it stays active "
                                            "until it is approved."))
                return redirect("work:customer", pk=rel.customer_id)
    else:
        form = EndRelationshipForm(initial={"on": timezone.localdate()})
    return render(request, "branch/request_form.html", {"form": form, "relationship": rel,
                                                             "title": _("End a relationship")})


@login_required
def customer_history(request, pk: int):
    """The customer's full relationship history: every version with its validity dates, and what led to it."""
    customer = get_object_or_404(visible_history_customers(request.user), pk=pk)
    shares = RelationshipShare.objects.select_related("staff__outlet").order_by("effective_from", "-ratio", "id")
    versions = list(visible_relationship_history(request.user).filter(customer=customer)
                    .select_related("type", "outlet").prefetch_related(Prefetch("shares", queryset=shares))
                    .order_by("type__sort_order", F("effective_from").desc(), "-id"))
    branch_ids = branch_ids_of(request.user)
    for rel in versions:
        rel.can_change = (rel.type.creation == "branch" and rel.effective_to is None and rel.outlet is not None
                          and (branch_ids is None or rel.outlet.branch_id in branch_ids))
    return render(request, "branch/customer.html", {
        "customer": customer,
        "versions": versions,
        "classes": visible_customer_classes(request.user).filter(customer=customer).select_related("outlet")
        .order_by("-detected_on", "-id"),
        "assignments": visible_preassignments(request.user).filter(customer=customer)
        .select_related("staff__outlet").order_by("-assigned_at", "-id"),
        "requests": visible_branch_requests(request.user).filter(customer=customer).select_related("type")
        .order_by("-requested_at", "-id"),
        "reservations": visible_reservations(request.user).filter(id_hash=customer.id_hash)
        .select_related("type", "staff", "outlet").order_by("-registered_at", "-id")[:50],
        "callbacks": visible_callbacks(request.user).filter(relationship__customer=customer)
        .select_related("relationship__type").order_by("-created_on", "-id"),
    })


# --------------------------------------------------------------------------------------------------
# §8 core lists
# --------------------------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def core_list(request):
    """R-CORE-1/2/3: submit the branch's core list (form rows or a file); see every line's fate."""
    branches = _branches(request.user)
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
                lines = []
                for n, row in enumerate(formset.cleaned_data, start=1):
                    if row.get("id_number") or row.get("staff_no"):
                        lines.append(core_line_from_row(n, {"id_number": row.get("id_number", ""),
                                                            "participants": row.get("staff_no", "")}))
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
    keys = [f"core_line:{ln.pk}" for ln in page.object_list]
    cases = dict(ApprovalCase.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", "pk"))
    for ln in page.object_list:
        ln.case_id = cases.get(f"core_line:{ln.pk}")
    core_customers = []
    if branches:
        pending = ApprovalCase.objects.filter(customer=OuterRef("customer"), type=OuterRef("type"),
                                              status__in=["pending", "returned"])
        core_customers = list(
            Relationship.objects.filter(type_id="CORE_SERVICE", effective_to__isnull=True,
                                        outlet__branch__in=branches)
            .select_related("customer", "outlet")
            .prefetch_related(Prefetch("shares", queryset=RelationshipShare.objects.filter(
                effective_to__isnull=True).select_related("staff")))
            .annotate(pending=Exists(pending)).order_by("outlet__name", "id")[:500])
    return render(request, "core/list.html", {
        "page_obj": page, "formset": formset, "upload": upload, "branches": branches, "branch": branch,
        "month_problem": core_month_refusal(timezone.localdate()), "core_customers": core_customers,
        "remove_form": CoreRemoveForm()})


@login_required
@require_POST
def core_remove(request, pk: int):
    """R-CORE-3: ask HQ to take a customer off the branch's core list (January and July only)."""
    ids = branch_ids_of(request.user)
    qs = Relationship.objects.filter(type_id="CORE_SERVICE", effective_to__isnull=True)
    if ids is not None:
        qs = qs.filter(outlet__branch_id__in=ids)
    rel = get_object_or_404(qs, pk=pk)  # another branch's relationship: 404 (R-PERM-4)
    form = CoreRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("work:core")
    try:
        core_list_remove(actor=request.user, relationship_id=rel.pk, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The removal has been sent to the head office; the customer stays on the core "
                                    "list until it is approved."))
    return redirect("work:core")


# --------------------------------------------------------------------------------------------------
# §11 callbacks
# --------------------------------------------------------------------------------------------------

@login_required
def callback_list(request):
    """R-CB-1: the outlet's callbacks to make, and the disputed relationships waiting for the branch."""
    qs = visible_callbacks(request.user).select_related("relationship__customer", "relationship__type", "outlet")
    pending = qs.filter(status=CallbackStatus.PENDING).order_by("due_on", "id")
    disputed = qs.filter(status=CallbackStatus.DISPUTED, resolution="").order_by("recorded_at", "id")
    page = CappedPaginator(pending, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "callbacks/list.html", {
        "page_obj": page, "disputed": disputed[:200], "today": timezone.localdate(),
        "recent": qs.exclude(status=CallbackStatus.PENDING).order_by("-recorded_at", "-id")[:20]})


@login_required
@require_http_methods(["GET", "POST"])
def callback_detail(request, pk: int):
    cb = get_object_or_404(visible_callbacks(request.user).select_related(
        "relationship__customer", "relationship__type", "outlet", "recorded_by", "resolved_by"), pk=pk)
    form = CallbackResultForm()
    resolve_form = ResolveForm()
    if request.method == "POST":
        if request.POST.get("action") == "resolve":
            resolve_form = ResolveForm(request.POST)
            if resolve_form.is_valid():
                allowed = branch_ids_of(request.user)
                if allowed is not None and (cb.outlet is None or cb.outlet.branch_id not in allowed):
                    raise PermissionDenied(_("Only the branch decides a disputed relationship."))
                try:
                    dispute_resolve(actor=request.user, callback_id=cb.pk,
                                    decision=resolve_form.cleaned_data["decision"],
                                    note=resolve_form.cleaned_data["note"], end_on=resolve_form.cleaned_data["end_on"])
                except ValidationError as exc:
                    _place_errors(exc, resolve_form, {"note", "decision"})
                else:
                    messages.success(request, _("The branch's decision has been recorded."))
                    return redirect("work:callbacks")
        else:
            form = CallbackResultForm(request.POST)
            if form.is_valid():
                try:
                    callback_record(actor=request.user, callback_id=cb.pk,
                                    confirmed=form.cleaned_data["result"] == "confirmed",
                                    reason=form.cleaned_data["reason"])
                except ValidationError as exc:
                    _place_errors(exc, form, {"reason"})
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, _("The callback result has been recorded."))
                    return redirect("work:callbacks")
    shares = cb.relationship.shares.select_related("staff__outlet").order_by("-ratio", "id")
    allowed = branch_ids_of(request.user)
    return render(request, "callbacks/detail.html", {
        "cb": cb, "form": form, "resolve_form": resolve_form, "shares": shares,
        "can_resolve": cb.status == CallbackStatus.DISPUTED and not cb.resolution and cb.outlet is not None
        and (allowed is None or cb.outlet.branch_id in allowed)})

