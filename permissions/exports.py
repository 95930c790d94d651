"""R-PERM-3: the permission register exported as CSV (§12 conventions) or Excel, streamed in id order."""
from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

COLUMNS = ["entry_id", "at", "event", "branch", "application_id", "subject", "what", "reason", "applicant",
           "signoff", "approved_by", "applied_by", "recorded_by", "detail"]


def rows(qs):
    qs = qs.select_related("branch").order_by("at", "id")
    for e in qs.iterator(chunk_size=2000):
        yield [e.pk, timezone.localtime(e.at).isoformat(), e.event, e.branch.code if e.branch_id else "",
               e.application_id or "", e.subject_label, e.what, e.reason, e.applicant_label, e.signoff,
               e.approver_label, e.applier_label, e.actor_label,
               json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail is not None else ""]


class _Echo:
    def write(self, value):
        return value


def csv_response(qs, filename: str = "permission_register.csv") -> StreamingHttpResponse:
    writer = csv.writer(_Echo(), lineterminator="\n")

    def stream():
        yield writer.writerow(COLUMNS)
        for row in rows(qs):
            yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_response(qs, filename: str = "permission_register.xlsx") -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("register")
    ws.append(COLUMNS)
    for row in rows(qs):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

