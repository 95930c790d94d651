"""Pages of §7: the branch's classified customers and pre-assignments, the assignee's customers and his
reservation, the special-new application. Thin: parse with a form, call the service or a scoped read
(`permissions.scoping`, R-PERM-4: a row outside one's scope answers 404), render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from common.forms import add_service_errors
from common.pagination import CappedPaginator
from permissions.authority import acting_branch_ids
from permissions.scoping import visible_customer_classes, visible_organisations, visible_preassignments
from relationships.models import FRONT_KINDS, CustomerClass, OrgKind, PreAssignment, PreAssignmentStatus, Staff
from relationships.selectors import require_staff
from relationships.types import secondary_type
from reservations.forms import CoDeveloperFormSet, co_developers, place_reservation_errors
from reservations.models import OPEN_STATUSES, Reservation
from reservations.secondary.forms import (
    ClassFilterForm,
    EndAssignmentForm,
    PreassignForm,
    SecondaryReserveForm,
    SpecialNewForm,
)
from reservations.secondary.services import preassignment_create, preassignment_end, secondary_reserve
from reservations.secondary.special_new import SpecialNewInput, special_new_apply, special_new_type

PAGE_SIZE = 50


@login_required
@require_http_methods(["GET", "POST"])
def classified_list(request):
    """R-SEC-4/6: the branch's lost / dormant / silent customers, filterable, with bulk pre-assignment."""
    allowed = acting_branch_ids(request.user)
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
                result = preassignment_create(actor=request.user, customer_ids=[i for i in ids if i in visible],
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
        "can_end": acting_branch_ids(request.user) != set()})


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
    staff = require_staff(request.user)
    open_res = Reservation.objects.filter(staff_id=staff.pk, type_id=secondary_type().code,
                                          id_hash=OuterRef("customer__id_hash"), status__in=OPEN_STATUSES)
    qs = (visible_preassignments(request.user).filter(staff=staff)
          .select_related("customer", "classification", "classification__outlet", "relationship")
          .annotate(reserved=Exists(open_res)).order_by("status", "-assigned_at", "-id"))
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "secondary/mine.html", {"page_obj": page})


@login_required
@require_http_methods(["GET", "POST"])
def assignment_reserve(request, pk: int):
    staff = require_staff(request.user)
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
                add_service_errors(form, exc)
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
    staff = require_staff(request.user)
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
