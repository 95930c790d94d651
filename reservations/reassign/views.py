"""The branch's pages of R-STAFF-1: the relationships awaiting reassignment, and the reassignment of a staff
member's relationships. Thin: scoped reads (`permissions.scoping`, R-PERM-4: another branch's staff answers 404),
the holder rows of the approval pages, and the filing service."""
from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from approvals.forms import HolderFormSet
from approvals.words import holder_totals
from common.forms import add_service_errors
from common.pagination import CappedPaginator
from permissions.authority import acting_branches
from permissions.scoping import visible_callbacks, visible_relationships, visible_staff
from relationships.callbacks import may_resolve_dispute
from relationships.models import Organisation, OrgKind, RelationshipShare, Staff
from relationships.reassignment import awaiting_reassignment, reassignable
from reservations.reassign.disputes import callback_dispute_reassign
from reservations.reassign.forms import DisputeReassignForm, ReassignFilterForm, ReassignForm
from reservations.reassign.services import reassignment_file

PAGE_SIZE = 50
LISTED = 200  # relationships listed with a tick box; "every relationship matching the filter" takes them all
HOLDERS = "holders"


def _require_branch_user(request) -> None:
    if not acting_branches(request.user):
        raise PermissionDenied(_("Only branch users can do this."))


@login_required
def awaiting_list(request):
    """R-STAFF-1: the relationships of leavers, until the branch reassigns them; by leaver, then one by one."""
    _require_branch_user(request)
    qs = awaiting_reassignment(visible_relationships(request.user))
    leavers = (RelationshipShare.objects.filter(effective_to__isnull=True, relationship__in=qs.values("pk"),
                                                staff__left_on__isnull=False)
               .values("staff_id", "staff__staff_no", "staff__name", "staff__left_on")
               .annotate(count=Count("relationship_id", distinct=True)).order_by("staff__left_on", "staff__staff_no"))
    page = CappedPaginator(qs.select_related("customer", "type", "outlet").order_by("id"), PAGE_SIZE) \
        .get_page(request.GET.get("page"))
    holders: dict[int, list[Staff]] = defaultdict(list)
    for share in (RelationshipShare.objects.filter(relationship__in=list(page.object_list), effective_to__isnull=True,
                                                   staff__left_on__isnull=False).select_related("staff")):
        holders[share.relationship_id].append(share.staff)
    for rel in page.object_list:
        rel.leavers = holders.get(rel.pk, [])
    return render(request, "reassign/awaiting.html", {"page_obj": page, "leavers": list(leavers[:100])})


def _from_staff(request, pk: int) -> Staff:
    return get_object_or_404(visible_staff(request.user).select_related("outlet__branch"), pk=pk)


def _eligible(request, from_staff: Staff) -> list[Staff]:
    """New holders to choose from: the staff the user sees with open attach permission who have not left (R-ATT-1
    per type is checked line by line when filing)."""
    return list(visible_staff(request.user).filter(attach_open=True, left_on__isnull=True)
                .exclude(pk=from_staff.pk).select_related("outlet").order_by("outlet__code", "staff_no")[:500])


@login_required
@require_http_methods(["GET", "POST"])
def reassign(request, pk: int):
    """Pick all or some of a staff member's relationships (filter by type, customer class, outlet), new holders with
    ratios (live total, R-RES-4) and the effective date; each refused line is named, the others are one case."""
    _require_branch_user(request)
    from_staff = _from_staff(request, pk)
    outlets = Organisation.objects.filter(kind=OrgKind.OUTLET, pk__in=visible_relationships(request.user).filter(
        effective_to__isnull=True, shares__staff=from_staff, shares__effective_to__isnull=True).values("outlet_id"))
    filters = ReassignFilterForm(request.GET or None, outlets=list(outlets.order_by("code")))
    data = filters.cleaned_data if filters.is_valid() else {}
    qs = reassignable(visible_relationships(request.user), from_staff=from_staff,
                      type_codes=[t.pk for t in data.get("types") or []], class_kinds=data.get("classes") or [],
                      outlet_ids=[int(i) for i in data.get("outlets") or []])
    eligible = _eligible(request, from_staff)
    form = ReassignForm(request.POST or None, initial={"effective_from": timezone.localdate(), "scope": "chosen"})
    holders = HolderFormSet(request.POST or None, prefix=HOLDERS, eligible=eligible)
    refused_rows: list[tuple[object, str]] = []
    if request.method == "POST" and form.is_valid() and holders.is_valid():
        chosen = qs if form.cleaned_data["scope"] == "all" else qs.filter(
            pk__in=[int(i) for i in request.POST.getlist("rel") if i.isdigit()])
        rels = list(chosen.select_related("customer", "type").order_by("id"))
        try:
            filed = reassignment_file(
                actor=request.user, from_staff=from_staff, relationships=rels,
                participants=[(f.cleaned_data["staff"], f.cleaned_data["ratio"]) for f in holders.forms
                              if f.cleaned_data.get("staff") is not None],
                effective_from=form.cleaned_data["effective_from"], note=form.cleaned_data["note"])
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc, fields={"effective_from"}, formset=holders, formset_keys={"participants"})
        else:
            by_id = {r.pk: r for r in rels}
            refused_rows = [(by_id[k], v) for k, v in sorted(filed.refused.items())]
            if filed.reassignment is not None:
                messages.success(request, _("%(n)d relationship(s) sent for approval as one reassignment case; "
                                            "%(bad)d refused.") % {"n": len(rels) - len(refused_rows),
                                                                  "bad": len(refused_rows)})
                for rel, reason in refused_rows:
                    messages.error(request, _("%(customer)s, %(type)s: %(reason)s") % {
                        "customer": rel.customer, "type": rel.type.label, "reason": reason})
                return redirect("approvals:case", filed.reassignment.case_id)
            messages.error(request, _("Every chosen relationship was refused; nothing was filed."))
    listed = list(qs.select_related("customer", "type", "outlet").order_by("id")[:LISTED + 1])
    return render(request, "reassign/form.html", {
        "from_staff": from_staff, "filters": filters, "form": form, "holder_formset": holders,
        "holder_summary": holder_totals(holders), "listed": listed[:LISTED], "more": len(listed) > LISTED,
        "refused_rows": refused_rows, "chosen": set(request.POST.getlist("rel")) if request.method == "POST" else None})


@login_required
@require_POST
def holders_summary(request, pk: int):
    """The holder rows' live total (htmx fragment, R-RES-4)."""
    from_staff = _from_staff(request, pk)
    holders = HolderFormSet(request.POST, prefix=HOLDERS, eligible=_eligible(request, from_staff))
    return render(request, "approvals/_holder_summary.html", {"summary": holder_totals(holders), "preview": None})


@login_required
@require_http_methods(["GET", "POST"])
def dispute_reassign(request, pk: int):
    """R-CB-1: resolve a disputed callback by giving the relationship to the right holders (one reassignment case)."""
    cb = get_object_or_404(visible_callbacks(request.user).select_related(
        "relationship__customer", "relationship__type", "outlet__branch"), pk=pk)
    if not may_resolve_dispute(request.user, cb):
        raise PermissionDenied(_("Only the branch decides a disputed relationship."))
    eligible = list(visible_staff(request.user).filter(attach_open=True, left_on__isnull=True)
                    .select_related("outlet").order_by("outlet__code", "staff_no")[:500])
    form = DisputeReassignForm(request.POST or None, initial={"effective_from": cb.relationship.effective_from})
    holders = HolderFormSet(request.POST or None, prefix=HOLDERS, eligible=eligible)
    if request.method == "POST" and form.is_valid() and holders.is_valid():
        try:
            filed = callback_dispute_reassign(
                actor=request.user, callback_id=cb.pk,
                participants=[(f.cleaned_data["staff"], f.cleaned_data["ratio"]) for f in holders.forms
                              if f.cleaned_data.get("staff") is not None],
                effective_from=form.cleaned_data["effective_from"], note=form.cleaned_data["note"])
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc, fields={"effective_from", "note"}, formset=holders,
                               formset_keys={"participants"})
        else:
            assert filed.reassignment is not None
            messages.success(request, _("The reassignment has been sent for approval; the dispute is decided when "
                                        "it is approved."))
            return redirect("approvals:case", filed.reassignment.case_id)
    return render(request, "reassign/dispute.html", {"cb": cb, "form": form, "holder_formset": holders,
                                                     "holder_summary": holder_totals(holders)})


@login_required
@require_POST
def dispute_holders_summary(request, pk: int):
    get_object_or_404(visible_callbacks(request.user), pk=pk)
    holders = HolderFormSet(request.POST, prefix=HOLDERS, eligible=list(
        visible_staff(request.user).filter(attach_open=True, left_on__isnull=True).select_related("outlet")[:500]))
    return render(request, "approvals/_holder_summary.html", {"summary": holder_totals(holders), "preview": None})
