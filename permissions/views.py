"""Permission pages (R-PERM-2/3) and the logged "show full ID" action (R-PII-1).

Thin: parse with a form (a FilterSet for the register list), call the service or a scoped selector, render.
Rows outside the user's scope answer 404 (R-PERM-4); actions the user may not take answer 403.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from common.forms import add_service_errors
from common.pagination import CappedPaginator
from common.redirects import local_url
from common.tables import filtered_rows, table_page
from permissions import authority, exports, scoping, services
from permissions.filters import RegisterFilter
from permissions.forms import ApplicationForm, DecisionForm, StatusFilterForm
from permissions.models import ApplicationAction, ApplicationStatus
from permissions.pii import needs_full_pii, reveals_pii, unmask
from permissions.tables import RegisterTable

PAGE_SIZE = 50


def _query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def application_list(request):
    filters = StatusFilterForm(request.GET or None)
    qs = (scoping.visible_permission_applications(request.user)
          .select_related("branch", "subject", "organisation", "applicant"))
    if filters.is_valid() and filters.cleaned_data["status"]:
        qs = qs.filter(status=filters.cleaned_data["status"])
    page = CappedPaginator(qs.order_by("-filed_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "permissions/applications.html",
                       {"page_obj": page, "filters": filters, "query": _query(request)})


@login_required
@require_http_methods(["GET", "POST"])
def application_new(request):
    form = ApplicationForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            app = services.application_file(
                actor=request.user, subject=d["subject"], action=d["action"], reason=d["reason"],
                signed_off=d["signed_off"], role_kind=d.get("role_kind") or None,
                organisation=d.get("organisation"), role=d.get("role"))
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Application #%(id)s filed; it waits for the branch head's approval.")
                             % {"id": app.pk})
            return redirect("permissions:application", pk=app.pk)
    return render(request, "permissions/application_new.html", {"form": form})


def _visible_application(request, pk):
    return get_object_or_404(scoping.visible_permission_applications(request.user).select_related(
        "branch", "subject", "organisation", "applicant", "decided_by", "applied_by"), pk=pk)


@login_required
def application_detail(request, pk: int):
    app = _visible_application(request, pk)
    user = request.user
    entries = app.register_entries.order_by("at", "id")
    return render(request, "permissions/application.html", {
        "app": app, "entries": entries, "decision_form": DecisionForm(),
        "is_revoke": app.action == ApplicationAction.REVOKE,
        "can_decide": app.status == ApplicationStatus.PENDING and authority.may_decide(user, app),
        "can_apply": app.status == ApplicationStatus.APPROVED and authority.may_apply(user, app),
        "can_withdraw": app.status == ApplicationStatus.PENDING and app.applicant_id == user.pk,
    })


def _act(request, pk, fn, done: str, **kwargs):
    app = _visible_application(request, pk)
    try:
        fn(actor=request.user, application_id=app.pk, **kwargs)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("permissions:application", pk=app.pk)


def _note(request) -> str:
    form = DecisionForm(request.POST)
    return form.cleaned_data["note"] if form.is_valid() else ""


@login_required
@require_POST
def application_approve_view(request, pk: int):
    return _act(request, pk, services.application_approve, _("Application approved."), note=_note(request))


@login_required
@require_POST
def application_reject_view(request, pk: int):
    return _act(request, pk, services.application_reject, _("Application rejected."), reason=_note(request))


@login_required
@require_POST
def application_withdraw_view(request, pk: int):
    return _act(request, pk, services.application_withdraw, _("Application withdrawn."))


@login_required
@require_POST
def application_apply_view(request, pk: int):
    return _act(request, pk, services.application_apply, _("The change has been applied."))


def _register_entries(*, user):
    """The register the user may read (R-PERM-4), with the branch joined so no row costs a query."""
    return scoping.visible_register_entries(user).select_related("branch")


def _filtered_register(*, request):
    """The dedicated exports filter with the page's FilterSet, so they hold exactly the rows the page lists."""
    return filtered_rows(RegisterFilter(request.GET or None, queryset=_register_entries(user=request.user),
                                        request=request))


@login_required
def register_list(request):
    """R-PERM-3: scoped (R-PERM-4), filtered, sorted, 50 a page with a capped count; `?_export=csv|xlsx`
    exports the table's columns, while the dedicated URLs below give the full register format."""
    return table_page(request, queryset=_register_entries(user=request.user), table_class=RegisterTable,
                      filterset_class=RegisterFilter, basename="permission_register",
                      template="permissions/register.html")


@login_required
def register_export_csv(request):
    return exports.csv_response(_filtered_register(request=request))


@login_required
def register_export_xlsx(request):
    return exports.xlsx_response(_filtered_register(request=request))


# --------------------------------------------------------------------------------------------------
# R-PII-1: "show full ID" — POST only, for roles that need it, logged
# --------------------------------------------------------------------------------------------------

def _require_pii_role(request) -> None:
    if not needs_full_pii(request.user):
        raise PermissionDenied(_("Your role does not need full ID numbers."))


def _render_unmasked(request, *, title, name, back_url, values):
    response = render(request, "permissions/unmasked.html",
                           {"title": title, "name": name, "back_url": back_url, **values})
    response["Cache-Control"] = "no-store"
    return response


@reveals_pii
@never_cache
@login_required
@require_POST
def unmask_reservation(request, pk: int):
    _require_pii_role(request)
    reservation = get_object_or_404(scoping.visible_reservations(request.user), pk=pk)
    values = unmask(actor=request.user, purpose="show full ID (reservation)", detail=f"reservation {reservation.pk}",
                    id_encrypted=reservation.id_encrypted, phone_encrypted=reservation.phone_encrypted)
    return _render_unmasked(request, title=_("Reservation #%(id)s") % {"id": reservation.pk},
                            name=reservation.customer_name,
                            back_url=reverse("reservations:detail", args=[reservation.pk]), values=values)


@reveals_pii
@never_cache
@login_required
@require_POST
def unmask_customer(request, pk: int):
    _require_pii_role(request)
    customer = get_object_or_404(scoping.visible_customers(request.user), pk=pk)
    values = unmask(actor=request.user, purpose="show full ID (customer)", detail=f"customer {customer.pk}",
                    id_encrypted=customer.id_encrypted, phone_encrypted=customer.phone_encrypted)
    return _render_unmasked(request, title=_("Customer"), name=customer.name,
                            back_url=local_url(request, request.POST.get("back"), "/"), values=values)
