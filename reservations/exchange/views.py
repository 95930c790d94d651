"""HQ operations in the browser: load a feed file, start a nightly run (R-MATCH-7, §12).

Views parse and render; the feed rules live in `reservations.exchange.registry` and each app's feed module,
the run in `reservations.pipeline`.
"""
from __future__ import annotations

import datetime as dt
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from common.spreadsheets import csv_writer
from common.wording import render as render_reason
from permissions.authority import is_hq_office
from reservations.exchange.columns import FILE_FORMAT
from reservations.exchange.forms import FeedUploadForm, NightlyForm
from reservations.exchange.loading import upload_progress
from reservations.exchange.registry import feed_formats, feed_sample
from reservations.exchange.uploads import feed_upload_submit
from reservations.models import FeedFile, FeedUpload, UploadStatus
from reservations.pipeline import STAGE_NAMES, stages_succeeded
from reservations.tasks import run_nightly_task


def _require_operations(user) -> None:
    """Feeds and runs concern the whole firm: HQ's office operates them."""
    if not is_hq_office(user):
        raise PermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def feed_upload(request):
    _require_operations(request.user)
    form = FeedUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            queued = feed_upload_submit(actor=request.user, kind=form.cleaned_data["kind"], filename=upload.name,
                                        content=upload.read())
        except ValueError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("reservations:feed_upload", pk=queued.pk)
    feeds = FeedFile.objects.order_by("-loaded_at", "-id")[:50]
    uploads = FeedUpload.objects.select_related("uploaded_by", "feed").defer("content").order_by("-id")[:20]
    return render(request, "reservations/feeds.html", {"form": form, "feeds": feeds, "uploads": uploads,
                                                            "nightly_form": NightlyForm(), "formats": feed_formats(),
                                                            "file_format": FILE_FORMAT})


@login_required
def feed_sample_csv(request, kind: str):
    """A sample file of one feed kind (§12): its header and a few valid lines, to start from."""
    _require_operations(request.user)
    try:
        header, lines = feed_sample(kind)
    except KeyError:
        raise Http404 from None
    buf = io.StringIO()
    writer = csv_writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(lines)
    response = HttpResponse(buf.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-sample.csv"'
    return response


# Its ID numbers are made up (valid, so that the sample loads): the access walker knows it holds nobody's data.
feed_sample_csv.synthetic_sample = True  # type: ignore[attr-defined]


def _upload_or_404(pk: int) -> FeedUpload:
    upload = FeedUpload.objects.select_related("feed", "uploaded_by").defer("content").filter(pk=pk).first()
    if upload is None:
        raise Http404
    return upload


def _shown(errors: list[dict]) -> list[dict]:
    """Refused lines as shown: each reason rendered in the reader's language (`common.wording.render`)."""
    return [{"line": e["line"], "reason": render_reason(e)} for e in errors]


def _upload_context(upload: FeedUpload) -> dict:
    finished = upload.status in (UploadStatus.DONE, UploadStatus.FAILED)
    progress = None if finished else upload_progress(upload.pk)
    percent = None
    if progress and progress["total"]:
        percent = min(100, round(100 * progress["done"] / progress["total"]))
    return {"upload": upload, "finished": finished, "progress": progress, "percent": percent,
            "errors": _shown(upload.feed.errors[:50]) if finished and upload.feed_id and not upload.already_loaded
            else []}


@login_required
def feed_upload_detail(request, pk: int):
    """An uploaded file: its progress while it loads, then what was loaded and refused (and why)."""
    _require_operations(request.user)
    return render(request, "reservations/feed_upload.html", _upload_context(_upload_or_404(pk)))


@login_required
def feed_upload_progress(request, pk: int):
    """The progress panel alone, polled by htmx every second until the load has finished."""
    _require_operations(request.user)
    return render(request, "reservations/_feed_upload_progress.html", _upload_context(_upload_or_404(pk)))


@login_required
def feed_detail(request, pk: int):
    _require_operations(request.user)
    feed = FeedFile.objects.filter(pk=pk).first()
    if feed is None:
        raise Http404
    return render(request, "reservations/feed_detail.html", {"feed": feed, "errors": _shown(feed.errors[:200])})


@login_required
def feed_errors_csv(request, pk: int):
    """The refused lines of a loaded file, with line number and reason, as a CSV download: the columns stay
    `line,reason` (other systems read them), the reason in the reader's language."""
    _require_operations(request.user)
    feed = FeedFile.objects.filter(pk=pk).first()
    if feed is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{feed.kind}-{feed.pk}-errors.csv"'
    response.write("\ufeff")
    writer = csv_writer(response)
    writer.writerow(["line", "reason"])
    for error in feed.errors:
        writer.writerow([error["line"], render_reason(error)])
    return response


@login_required
@require_POST
def nightly_start(request):
    """Queue the nightly pipeline for a date; the run ledger shows each stage's progress."""
    _require_operations(request.user)
    form = NightlyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid business date."))
        return redirect("reservations:feeds")
    day: dt.date = form.cleaned_data["business_date"]
    if day > timezone.localdate():
        messages.error(request, _("The business date cannot be in the future."))
        return redirect("reservations:feeds")
    done = stages_succeeded(day)
    if done >= set(STAGE_NAMES):  # R-MATCH-7: nothing left to run; say so rather than "started"
        messages.info(request, _("The nightly run for %(date)s has already finished: every stage succeeded, so "
                                 "nothing was started again.") % {"date": day.isoformat()})
        return redirect("reservations:runs")
    transaction.on_commit(lambda: run_nightly_task.delay(day.isoformat()))
    if done:
        messages.success(request, _("The nightly run for %(date)s has been resumed: the stages that already "
                                    "succeeded are skipped; follow it in the run ledger.") % {"date": day.isoformat()})
    else:
        messages.success(request, _("The nightly run for %(date)s has been started; follow it in the run ledger.")
                         % {"date": day.isoformat()})
    return redirect("reservations:runs")
