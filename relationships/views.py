"""Relationship pages: scoped reads (R-PERM-4), customers with the masked ID (R-PII-1), and the outlet's
callbacks (R-CB-1). Thin: parse with a form, call the service, render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from common.forms import add_service_errors
from common.pagination import CappedPaginator
from common.tables import table_page
from permissions.scoping import (
    visible_callbacks,
    visible_customer_classes,
    visible_history_customer_id_set,
    visible_history_customers,
    visible_relationships,
    visible_reservations,
)
from relationships.callbacks import callback_record, may_resolve_dispute
from relationships.filters import CustomerFilter, RelationshipFilter
from relationships.forms import CallbackResultForm, ResolveForm
from relationships.models import CallbackStatus, RelationshipShare
from relationships.tables import CustomerTable, RelationshipTable
from reservations.reassign.disputes import callback_dispute_decide

PAGE_SIZE = 50


def _relationships(user):
    shares = (RelationshipShare.objects.select_related("staff")
              .order_by(F("effective_to").desc(nulls_first=True), "-ratio", "id"))
    return (visible_relationships(user)
            .select_related("customer", "type", "outlet")
            .prefetch_related(Prefetch("shares", queryset=shares)))


def _relationship_rows(user):
    """The relationship list's rows with only the columns its table (and export) shows: a page builds some 400
    model instances, and each costs what it holds (issue 18). The ID number's hash and ciphertexts, the type's
    matching rules and the staff's links are never read there. The shares are a list on each row
    (`listed_shares`): a prefetch into the `shares` manager would clone and filter its queryset once per row."""
    shares = (RelationshipShare.objects.select_related("staff")
              .only("relationship_id", "staff_id", "ratio", "effective_to", "staff__name", "staff__staff_no")
              .order_by(F("effective_to").desc(nulls_first=True), "-ratio", "id"))
    return (visible_relationships(user)
            .select_related("customer", "type", "outlet")
            .only("customer_id", "type_id", "outlet_id", "effective_from", "effective_to", "customer__name",
                  "customer__id_masked", "type__name", "type__name_en", "outlet__name")
            .prefetch_related(Prefetch("shares", queryset=shares, to_attr="listed_shares")))


@login_required
def relationship_list(request):
    """Scoped (R-PERM-4), filtered, sorted, 50 a page with a capped count (no COUNT(*) over millions);
    `?_export=csv|xlsx` exports the same rows (masked IDs only)."""
    return table_page(request, queryset=_relationship_rows(request.user), table_class=RelationshipTable,
                      filterset_class=RelationshipFilter, basename="relationships",
                      template="relationships/list.html")


@login_required
def relationship_detail(request, pk: int):
    relationship = get_object_or_404(_relationships(request.user), pk=pk)
    reservations = (visible_reservations(request.user).filter(relationship=relationship)
                    .select_related("type", "staff", "outlet").order_by("-registered_at", "-id"))
    return render(request, "relationships/detail.html", {
        "relationship": relationship, "reservations": reservations,
    })


def _customers(user):
    """Customers whose history page `user` may open, each with only his visible active relationships (current
    holders, as a list `listed_shares` on each: see `_relationship_rows`) and open classes prefetched: one query
    per list, not per row, and nothing outside the scope."""
    shares = (RelationshipShare.objects.filter(effective_to__isnull=True).select_related("staff")
              .only("relationship_id", "staff_id", "ratio", "staff__name", "staff__staff_no")
              .order_by("-ratio", "id"))
    relationships = (visible_relationships(user).filter(effective_to__isnull=True).select_related("type")
                     .only("customer_id", "type_id", "type__name", "type__name_en")
                     .prefetch_related(Prefetch("shares", queryset=shares, to_attr="listed_shares"))
                     .order_by("type__sort_order", "id"))
    classes = (visible_customer_classes(user).filter(ended_on__isnull=True).only("customer_id", "kind")
               .order_by("-since", "-id"))
    # Only what the list (and its export) shows: the ID number's hash and ciphertexts are never read (issue 18).
    return visible_history_customers(user).only("name", "id_masked", "created_at").prefetch_related(
        Prefetch("relationships", queryset=relationships, to_attr="visible_active_relationships"),
        Prefetch("classes", queryset=classes, to_attr="visible_open_classes"))


@login_required
def customer_list(request):
    """Scoped like the customer history page it links to (R-PERM-4), masked IDs only (R-PII-1); filtered,
    sorted, capped count; `?_export=csv|xlsx` exports the same rows."""
    return table_page(request, queryset=_customers(request.user), table_class=CustomerTable,
                      count_ids=visible_history_customer_id_set(request.user),
                      filterset_class=CustomerFilter, basename="customers",
                      template="relationships/customers.html")


# --- §11 callbacks ---------------------------------------------------------------------------------------

@login_required
def callback_list(request):
    """R-CB-1: the outlet's callbacks to make, and the disputed relationships waiting for the branch."""
    qs = visible_callbacks(request.user).select_related("relationship__customer", "relationship__type", "outlet")
    pending = qs.filter(status=CallbackStatus.PENDING).order_by("due_on", "id")
    disputed = qs.filter(status=CallbackStatus.DISPUTED, resolution="").order_by("recorded_at", "id")
    page = CappedPaginator(pending, PAGE_SIZE).get_page(request.GET.get("page"))
    # R-REM-1: the disputes are paged too (their own `dpage`), never cut silently.
    disputes = CappedPaginator(disputed, PAGE_SIZE).get_page(request.GET.get("dpage"))
    return render(request, "callbacks/list.html", {
        "page_obj": page, "disputed": disputes, "today": timezone.localdate(),
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
                try:
                    callback_dispute_decide(actor=request.user, callback_id=cb.pk,
                                    decision=resolve_form.cleaned_data["decision"],
                                    note=resolve_form.cleaned_data["note"], end_on=resolve_form.cleaned_data["end_on"])
                except (ValidationError, PermissionDenied) as exc:
                    add_service_errors(resolve_form, exc, fields={"note", "decision"})
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
                except (ValidationError, PermissionDenied) as exc:
                    add_service_errors(form, exc, fields={"reason"})
                else:
                    messages.success(request, _("The callback result has been recorded."))
                    return redirect("work:callbacks")
    shares = cb.relationship.shares.select_related("staff__outlet").order_by("-ratio", "id")
    return render(request, "callbacks/detail.html", {
        "cb": cb, "form": form, "resolve_form": resolve_form, "shares": shares,
        "can_resolve": may_resolve_dispute(request.user, cb)})
