"""R-PERM-3: the permission register exported as CSV (§12 conventions) or Excel, streamed in id order."""
from __future__ import annotations

import itertools
import json

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from common.tables import csv_stream_response
from common.tables import xlsx_response as xlsx_response_of_rows

COLUMNS = ["entry_id", "at", "event", "branch", "application_id", "subject", "what", "reason", "applicant",
           "signoff", "approved_by", "applied_by", "recorded_by", "detail"]


def rows(qs):
    qs = qs.select_related("branch").order_by("at", "id")
    for e in qs.iterator(chunk_size=2000):
        yield [e.pk, timezone.localtime(e.at).isoformat(), e.event, e.branch.code if e.branch_id else "",
               e.application_id or "", e.subject_label, e.what, e.reason, e.applicant_label, e.signoff,
               e.approver_label, e.applier_label, e.actor_text,
               json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail is not None else ""]


def csv_response(qs, filename: str = "permission_register.csv") -> StreamingHttpResponse:
    return csv_stream_response([COLUMNS], rows(qs), filename=filename, bom=False)


def xlsx_response(qs, filename: str = "permission_register.xlsx") -> FileResponse:
    return xlsx_response_of_rows(itertools.chain([COLUMNS], rows(qs)), filename=filename, sheet="register")
