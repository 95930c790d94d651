"""Performance pages (R-PERF-4): rankings and trends as tables and inline SVG charts, exports, period locks,
reopening and the period register, and the adjustments posted into a period (R-PERF-5).

Thin: parse the filters, call the scoped selectors, render. A fixed number of queries per page,
whatever the number of rows (every figure is aggregated in SQL).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common.forms import add_service_errors
from performance.charts import bar_chart, line_chart
from performance.exports import table_csv, table_xlsx
from performance.forms import LockForm, ReopenForm, ReportFilterForm
from performance.models import ComputedPeriod, PeriodLock, PeriodRegisterEntry
from performance.periods import period_lock, period_reopen
from performance.selectors import (
    ADJUSTMENTS_SHOWN,
    LEVELS,
    METRICS,
    adjustment_rows,
    computed_periods,
    monthly_trend,
    period_facts,
    ranking,
    report_rows,
    top_staff,
    totals,
    trend_window,
)
from performance.services import month_start, next_month, parse_period
from permissions.authority import is_hq_office

PAGE_SIZE = 50
EXPORT_MAX_ROWS = 100_000


def _default_period() -> str:
    latest = ComputedPeriod.objects.order_by("-period").values_list("period", flat=True).first()
    return f"{latest or timezone.localdate():%Y-%m}"


def _filters(request) -> ReportFilterForm:
    return ReportFilterForm(request.GET or None, user=request.user, default_period=_default_period())


@login_required
def report(request):
    form = _filters(request)
    q = form.query()
    first, end = trend_window(q)
    computed_months = computed_periods(start=first, end=end)   # one read for the facts, the trend and the status
    facts = period_facts(q, computed_months)
    page = Paginator(ranking(request.user, q, facts), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = report_rows(page.object_list, q, facts, offset=page.start_index() - 1 if page.paginator.count else 0)
    metric_label = METRICS[q.metric]
    trend = monthly_trend(request.user, q, computed_months)
    top = top_staff(request.user, q, facts)
    month = month_start(q.day)
    lock = computed = None
    if q.kind == "month":
        lock = PeriodLock.objects.filter(period=month).first()
        computed = computed_months.get(month)
    adjustments = adjustment_rows(request.user, q, limit=ADJUSTMENTS_SHOWN + 1)
    query = request.GET.copy()
    query.pop("page", None)
    hq = is_hq_office(request.user)
    return render(request, "performance/report.html", {
        "form": form, "q": q, "page_obj": page, "rows": rows, "totals": totals(request.user, q, facts),
        "facts": facts, "level_label": LEVELS[q.level], "metric_label": metric_label,
        "line_svg": line_chart([(f"{m:%Y-%m}", v) for m, v in trend],
                               title=_("%(figure)s by month") % {"figure": metric_label},
                               description=_("Monthly %(figure)s over the twelve months up to %(period)s.")
                               % {"figure": str(metric_label).lower(), "period": f"{trend[-1][0]:%Y-%m}"}),
        "trend": trend,
        "bar_svg": bar_chart([(_("%(name)s (%(code)s)") % {"name": r["name"], "code": r["code"]}, r[q.metric])
                              for r in top],
                             title=_("Top staff by %(figure)s") % {"figure": str(metric_label).lower()},
                             description=_("The %(n)d staff with the highest %(figure)s in %(period)s.")
                             % {"n": len(top), "figure": str(metric_label).lower(), "period": q.label}),
        "top": top, "lock": lock, "computed": computed,
        "adjustments": adjustments[:ADJUSTMENTS_SHOWN], "more_adjustments": len(adjustments) > ADJUSTMENTS_SHOWN,
        "can_lock": (hq and q.kind == "month" and lock is None and next_month(month) <= timezone.localdate()),
        "can_reopen": hq and lock is not None, "is_hq": hq,
        "query": query.urlencode(), "staff_only": form.staff_only,
    })


@login_required
def export(request, fmt: str):
    if fmt not in ("csv", "xlsx"):
        raise Http404
    q = _filters(request).query()
    facts = period_facts(q)
    rows = report_rows(ranking(request.user, q, facts)[:EXPORT_MAX_ROWS], q, facts)
    adjustments = adjustment_rows(request.user, q, limit=EXPORT_MAX_ROWS)
    name = f"performance-{q.level}-{q.label}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(table_csv(rows, q.level, q.label, adjustments),
                                content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            table_xlsx(rows, q.level, q.label, adjustments),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def lock(request):
    """R-PERF-3: locking is irreversible, so it asks first — a page of its own (no JavaScript needed); only the
    confirmation's own button (`confirm=yes`) locks."""
    form = LockForm(request.POST)
    target = reverse("performance:report")
    if not form.is_valid():
        messages.error(request, _("Enter the period to lock as YYYY-MM."))
        return redirect(target)
    text = form.cleaned_data["period"]
    if not is_hq_office(request.user):
        raise PermissionDenied
    if request.POST.get("confirm") != "yes":
        try:
            parse_period(text)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(target)
        return render(request, "performance/lock_confirm.html", {"period": text, "back": f"{target}?period={text}"})
    try:
        period_lock(actor=request.user, period=parse_period(text))  # PermissionDenied → 403
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(period)s is locked: its figures will not change any more.") % {"period": text})
    return redirect(f"{target}?period={text}")


@login_required
@require_POST
def reopen(request):
    """R-PERF-5: HQ reopens a locked period with a reason. The report's button brings the confirmation page with the
    reason to give (no JavaScript needed); only its own button (`confirm=yes`) reopens."""
    if not is_hq_office(request.user):
        raise PermissionDenied
    form = ReopenForm(request.POST)
    target = reverse("performance:report")
    if not form.is_valid():
        messages.error(request, _("Enter the period to reopen as YYYY-MM."))
        return redirect(target)
    text = form.cleaned_data["period"]
    back = f"{target}?period={text}"
    if request.POST.get("confirm") == "yes":
        try:
            period_reopen(actor=request.user, period=parse_period(text), reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc, fields={"reason"})
        else:
            messages.success(request, _("%(period)s is reopened: the next night computes it again.")
                             % {"period": text})
            return redirect(back)
    else:
        form = ReopenForm(initial={"period": text})
    return render(request, "performance/reopen_confirm.html", {"form": form, "period": text, "back": back})


@login_required
def register(request):
    """R-PERF-5: the period register (every lock, reopen and relock), for HQ's office; newest first, paged."""
    if not is_hq_office(request.user):
        raise PermissionDenied
    entries = PeriodRegisterEntry.objects.order_by("-at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "performance/register.html", {"page_obj": page})
