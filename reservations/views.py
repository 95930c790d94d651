"""Reservation pages. Thin: parse with a form, call the service or a scoped selector, render.

Every read goes through `permissions.scoping` (R-PERM-4): a row outside the user's scope answers 404.
"""
from __future__ import annotations

import datetime as dt
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from common.pagination import CappedPaginator
from common.tables import csv_stream_response, table_page
from permissions.scoping import visible_batch_runs, visible_reservations
from relationships.selectors import current_staff, require_staff
from relationships.services import ratio_summary as summarise_ratios
from reservations import selectors
from reservations.filters import ReservationFilter
from reservations.forms import (
    CO_DEVELOPER_MAX,
    CoDeveloperFormSet,
    CorrectNameForm,
    ReservationForm,
    WithdrawForm,
    co_developers,
    place_reservation_errors,
)
from reservations.models import ReservationStatus
from reservations.pipeline import STAGE_LABELS
from reservations.services import (
    ReservationInput,
    reservation_correct_name,
    reservation_register,
    reservation_withdraw,
    reservation_withdraw_refusal,
)
from reservations.tables import ReservationTable

PAGE_SIZE = 50
NIGHT_PROBLEMS_SHOWN = 50

COUNT_LABELS = {
    "events_read": gettext_lazy("events read"),
    "matched": gettext_lazy("matched"),
    "sent_to_approval": gettext_lazy("sent to approval"),
    "joined_case": gettext_lazy("joined an open conflict case"),  # R-MATCH-3
    "flagged": gettext_lazy("flagged"),
    "expired": gettext_lazy("expired"),
    "refused": gettext_lazy("refused"),
    "units": gettext_lazy("units"),
    "lost": gettext_lazy("lost customers"),
    "dormant": gettext_lazy("dormant customers"),
    "silent": gettext_lazy("silent customers"),
    "new_lost": gettext_lazy("newly lost customers"),
    "new_dormant": gettext_lazy("newly dormant customers"),
    "new_silent": gettext_lazy("newly silent customers"),
    "ended_lost": gettext_lazy("customers no longer lost"),
    "ended_dormant": gettext_lazy("customers no longer dormant"),
    "ended_silent": gettext_lazy("customers no longer silent"),
    "set_aside": gettext_lazy("events set aside for a retry"),
    "set_aside_retried": gettext_lazy("set-aside events retried"),
    "assignments_read": gettext_lazy("pre-assignments read"),
    "calendar_unknown": gettext_lazy("decided with an unknown calendar year"),  # R-CAL-1
    "callbacks": gettext_lazy("callbacks created"),
    "callbacks_calendar_unknown": gettext_lazy("callbacks due dates counted Monday to Friday"),  # R-CAL-1
    "periods_computed": gettext_lazy("periods computed"),
    "periods_locked_skipped": gettext_lazy("locked periods skipped"),
    "performance_rows": gettext_lazy("performance rows"),
    # R-APR-9: the reminder stage
    "steps_reminded": gettext_lazy("steps reminded"),
    "steps_escalated": gettext_lazy("steps escalated"),
    "callbacks_reminded": gettext_lazy("overdue callbacks reminded"),
    "callbacks_escalated": gettext_lazy("overdue callbacks escalated"),
    "reminders": gettext_lazy("reminders"),
    "reminders_calendar_unknown": gettext_lazy("reminders counted Monday to Friday"),
}
# Counts that are a yes/no of the night: shown as words when set, left out when not.
FLAG_LABELS = {
    "silent_judged": gettext_lazy("silent customers judged (month end)"),
}


@login_required
@require_http_methods(["GET", "POST"])
def reservation_create(request):
    """Without JavaScript, "Recalculate" posts the form back: the totals are shown and blank rows added,
    nothing is registered; with it, htmx shows the totals live and a button adds rows."""
    staff = require_staff(request.user)
    if request.method == "POST" and "_recalculate" in request.POST:
        rows = [{"staff_no": request.POST.get(f"co-{i}-staff_no", ""), "ratio": request.POST.get(f"co-{i}-ratio", "")}
                for i in range(CO_DEVELOPER_MAX)]
        rows = [row for row in rows if row["staff_no"].strip() or row["ratio"].strip()]
        form = ReservationForm(initial={name: request.POST.get(name, "") for name in ReservationForm.base_fields},
                               staff=staff)
        formset = CoDeveloperFormSet(prefix="co", initial=rows)
        return render(request, "reservations/register.html", {
            "form": form, "formset": formset, "totals": ratio_totals(request.POST)})
    if request.method == "POST":
        form = ReservationForm(request.POST, staff=staff)
        formset = CoDeveloperFormSet(request.POST, prefix="co")
        if form.is_valid() and formset.is_valid():
            participants = [(staff, form.cleaned_data["own_ratio"])] + co_developers(formset)
            data = ReservationInput(staff=staff, type_code=form.cleaned_data["relationship_type"].code,
                                    customer_name=form.cleaned_data["customer_name"],
                                    id_number=form.cleaned_data["id_number"], phone=form.cleaned_data["phone"],
                                    participants=participants, source="form")
            try:
                reservation = reservation_register(actor=request.user, data=data)
            except ValidationError as exc:
                place_reservation_errors(exc, form, formset)
            else:
                if reservation.status == ReservationStatus.PENDING_APPROVAL:
                    messages.warning(request, _("The account was already opened: this late reservation has "
                                                "been sent for approval."))
                else:
                    messages.success(request, _("Reservation registered; valid until %(date)s.")
                                     % {"date": reservation.valid_until})
                return redirect("reservations:detail", pk=reservation.pk)
    else:
        form = ReservationForm(staff=staff)
        formset = CoDeveloperFormSet(prefix="co")
    data = request.POST if request.method == "POST" else {"own_ratio": form.fields["own_ratio"].initial}
    return render(request, "reservations/register.html", {"form": form, "formset": formset,
                                                               "totals": ratio_totals(data)})


@login_required
def reservation_list(request):
    """Scoped (R-PERM-4), filtered, sorted, 50 a page with a capped count; `?_export=csv|xlsx` exports the same
    rows (masked IDs only)."""
    return table_page(request, queryset=visible_reservations(request.user).select_related("type", "staff", "outlet"),
                      table_class=ReservationTable, filterset_class=ReservationFilter, basename="reservations",
                      template="reservations/list.html")


CO_RATIO_KEY = re.compile(r"^co-(\d{1,4})-ratio$")


@login_required
@require_http_methods(["GET", "POST"])
def ratio_summary(request):
    """The register form's live total (htmx fragment): own ratio plus co-developer ratios, and what is left
    of 1. Pure computation with `parse_ratio` (no reads, no writes); the form's own validation is unchanged."""
    return render(request, "reservations/_ratio_summary.html",
                  ratio_totals(request.POST if request.method == "POST" else request.GET))


def ratio_totals(data) -> dict:
    """Own ratio plus co-developer ratios as typed, and what is left of 1 (the page's running total)."""
    raw = [data.get("own_ratio", "")] + [value for key, value in data.items() if CO_RATIO_KEY.match(key)][:1000]
    return vars(summarise_ratios(raw))


def _detail_context(request, reservation, correct_form=None) -> dict:
    staff = current_staff(request.user)
    own = staff is not None and reservation.staff_id == staff.pk
    return {
        "reservation": reservation,
        "participants": reservation.participants.select_related("staff__outlet").order_by("-ratio", "id"),
        "can_withdraw": reservation_withdraw_refusal(reservation, staff) is None,
        "can_correct": own and reservation.status == ReservationStatus.FLAGGED,
        "correct_form": correct_form or CorrectNameForm(initial={"customer_name": reservation.customer_name}),
        "history": selectors.reservation_history(reservation),
    }


def _visible_reservation(request, pk):
    return get_object_or_404(visible_reservations(request.user).select_related(
        "type", "staff", "outlet", "approval_case"), pk=pk)


@login_required
def reservation_detail(request, pk: int):
    reservation = _visible_reservation(request, pk)
    return render(request, "reservations/detail.html", _detail_context(request, reservation))


@login_required
@require_POST
def reservation_withdraw_view(request, pk: int):
    """R-RES-6: withdrawing cannot be undone, so the detail page's button leads to a confirmation (a page of its
    own, no JavaScript needed) that asks an optional reason; only its own button (`confirm=yes`) withdraws."""
    reservation = _visible_reservation(request, pk)
    staff = require_staff(request.user)
    refusal = reservation_withdraw_refusal(reservation, staff)
    if refusal:
        messages.error(request, refusal)
        return redirect("reservations:detail", pk=reservation.pk)
    form = WithdrawForm(request.POST if request.POST.get("confirm") == "yes" else None)
    if form.is_valid():
        try:
            reservation_withdraw(actor=request.user, reservation_id=reservation.pk, staff=staff,
                                 reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The reservation has been withdrawn."))
        return redirect("reservations:detail", pk=reservation.pk)
    return render(request, "reservations/withdraw_confirm.html", {"reservation": reservation, "form": form})


@login_required
@require_POST
def reservation_correct_view(request, pk: int):
    """R-MATCH-2: correct a flagged reservation's customer name."""
    reservation = _visible_reservation(request, pk)
    staff = require_staff(request.user)
    form = CorrectNameForm(request.POST)
    if form.is_valid():
        try:
            reservation_correct_name(actor=request.user, reservation_id=reservation.pk, staff=staff,
                                     customer_name=form.cleaned_data["customer_name"])
        except ValidationError as exc:
            form.add_error("customer_name", exc.messages)
        else:
            messages.success(request, _("The customer name has been corrected; the opening will be matched "
                                        "again in the next nightly run."))
            return redirect("reservations:detail", pk=reservation.pk)
    return render(request, "reservations/detail.html", _detail_context(request, reservation, form))


@login_required
def run_list(request):
    """R-MATCH-7: the run ledger, one row per business date and stage, with its counts."""
    qs = visible_batch_runs(request.user).order_by("-business_date", "id")
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _ledger_rows(page.object_list)
    running = any(row["run"].status == "running" for row in rows)
    return render(request, "reservations/runs.html", {"page_obj": page, "rows": rows, "running": running})


def ledger_counts(counts: dict) -> list[tuple[str, object]]:
    """A run's counts in words, in a fixed order: (label, value); a yes/no flag is (label, "") when set.

    A count this page has no words for is summed under "other counts", never shown by its code.
    """
    order = list(COUNT_LABELS)
    shown: list[tuple[str, object]] = []
    other = 0
    for key, value in sorted((counts or {}).items(), key=lambda kv: order.index(kv[0]) if kv[0] in order
                             else len(order)):
        if key in FLAG_LABELS:
            if value:
                shown.append((str(FLAG_LABELS[key]), ""))
        elif key in COUNT_LABELS:
            shown.append((str(COUNT_LABELS[key]), value))
        elif isinstance(value, int):
            other += value
    if other:
        shown.append((_("other counts"), other))
    return shown


def _ledger_rows(runs) -> list[dict]:
    return [{"run": run, "stage": STAGE_LABELS.get(run.stage, run.stage), "counts": ledger_counts(run.counts)}
            for run in runs]


def _night_or_404(request, day: str):
    try:
        business_date = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    runs = selectors.night_runs(request.user, business_date)
    if not runs:  # staff, or a date without a run: nothing to report
        raise Http404
    return business_date, runs


@login_required
def night_report(request, day: str):
    """What one night did (R-MATCH-7): each stage's counts, the openings' outcomes, and the refused or flagged
    reservations with the reason the batch wrote; the whole of it downloadable line by line."""
    business_date, runs = _night_or_404(request, day)
    problems = list(selectors.night_problems(request.user, business_date)[:NIGHT_PROBLEMS_SHOWN + 1])
    unknown = list(selectors.night_calendar_unknown(request.user, business_date)[:NIGHT_PROBLEMS_SHOWN + 1])
    conflicts = list(selectors.night_event_conflicts(request.user, business_date)[:NIGHT_PROBLEMS_SHOWN + 1])
    return render(request, "reservations/night.html", {
        "business_date": business_date, "rows": _ledger_rows(runs),
        "running": any(r.status == "running" for r in runs),
        "outcomes": selectors.night_outcome_counts(request.user, business_date),
        "problems": problems[:NIGHT_PROBLEMS_SHOWN], "more_problems": len(problems) > NIGHT_PROBLEMS_SHOWN,
        "set_aside": list(selectors.night_set_aside(request.user, business_date)[:NIGHT_PROBLEMS_SHOWN]),
        "calendar_unknown": unknown[:NIGHT_PROBLEMS_SHOWN],
        "more_calendar_unknown": len(unknown) > NIGHT_PROBLEMS_SHOWN,
        "conflicts": [(c, selectors.conflict_differences(c)) for c in conflicts[:NIGHT_PROBLEMS_SHOWN]],
        "more_conflicts": len(conflicts) > NIGHT_PROBLEMS_SHOWN,
    })


@login_required
def night_report_csv(request, day: str):
    """One line per opening decided that night and reservation it decided (openings without one: one line)."""
    business_date, _runs = _night_or_404(request, day)
    header = [_("event id"), _("opened at"), _("outlet"), _("customer"), _("name on the account"), _("outcome"),
              _("reservation"), _("staff number"), _("reservation status"),
              _("calendar year not loaded (counted Monday to Friday)"), _("reason")]
    unknown = _("yes")

    def lines():
        for event in selectors.night_openings(request.user, business_date).iterator(chunk_size=2000):
            first = [event.event_id, timezone.localtime(event.event_time).strftime("%Y-%m-%d %H:%M:%S"),
                     event.outlet.code, event.customer.id_masked, event.customer_name,
                     selectors.outcome_label(event.match_outcome)]
            reservations = list(event.reservations.all())
            if not reservations:
                yield first + ["", "", "", "", ""]
            for r in reservations:
                yield first + [r.pk, r.staff.staff_no, r.get_status_display(),
                               unknown if r.calendar_unknown_on else "", r.note_shown]

    return csv_stream_response([header], lines(), filename=f"night-{business_date.isoformat()}.csv")
