"""The §12 exports. They carry full ID numbers, so each run is logged as a PII access (R-PII-1).

Written through `common.spreadsheets.csv_writer` like every other file: the contract's values (ID numbers, codes,
dates, ISO times, plain-decimal amounts and ratios, negative ones included) pass unchanged; only a value no
contract defines that begins like a formula (a staff number `=…`) arrives with a leading `'`, so a person who
opens the file in Excel runs nothing."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TextIO

from django.utils import timezone

from approvals.models import ApprovalCase, CaseClaimant, CaseStep
from common.actors import actor_label, actor_user
from common.spreadsheets import csv_writer
from performance.exports import section12_export
from performance.models import StaffPerformance
from relationships.models import PiiAccess, Relationship, RelationshipShare
from relationships.pii import decrypt
from reservations.models import Reservation

EXPORT_KINDS = ("relationships", "reservations", "approval_cases", "performance")


def _iso(value) -> str:
    """§12: times as ISO 8601 with the Shanghai offset, dates as YYYY-MM-DD."""
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value)
    return value.isoformat()


def _relationships(user_scope) -> tuple[list[str], Iterable[list]]:
    header = ["id_number", "relationship_type", "staff_no", "ratio", "effective_from", "effective_to", "status"]
    qs = (RelationshipShare.objects.filter(relationship__in=user_scope("relationships"))
          .order_by("relationship_id", "id")
          .values_list("relationship__customer__id_encrypted", "relationship__type_id", "staff__staff_no", "ratio",
                       "effective_from", "effective_to", "relationship__effective_to"))

    def rows():
        for enc, code, staff_no, ratio, start, end, rel_end in qs.iterator(chunk_size=5000):
            status = "active" if end is None and rel_end is None else "ended"
            yield [decrypt(enc), code, staff_no, f"{ratio:.4f}", _iso(start), _iso(end or rel_end), status]
    return header, rows()


def _reservations(user_scope):
    header = ["id_number", "staff_no", "relationship_type", "registered_at", "status"]
    qs = user_scope("reservations").order_by("id").values_list(
        "id_encrypted", "staff__staff_no", "type_id", "registered_at", "status")

    def rows():
        for enc, staff_no, code, at, status in qs.iterator(chunk_size=5000):
            yield [decrypt(enc), staff_no, code, _iso(at), status]
    return header, rows()


# §12 post codes of the approval_cases export's `steps` (a branch confirmation is `confirm`, whatever post acts on it).
STEP_CODES = {"designated_person": "designated"}
CASE_CHUNK = 2000


def _steps_text(steps: list[tuple[int, str, str, str]]) -> str:
    """`post@organisation_code` in order, `;` between orders, `+` between the parallel steps of one order."""
    by_order: dict[int, list[str]] = {}
    for order, post, kind, org in steps:
        code = "confirm" if kind == "confirm" else STEP_CODES.get(post, post)
        by_order.setdefault(order, []).append(f"{code}@{org}")
    return ";".join("+".join(codes) for _order, codes in sorted(by_order.items()))


def _approval_cases(user_scope):
    """One row per case; its steps and claimants (staff numbers in registration order, R-MATCH-3) are read per
    chunk of cases, two statements each, never per row."""
    header = ["case_id", "reason", "relationship_type", "id_number", "status", "current_step", "steps", "claimants"]
    qs = user_scope("approval_cases").order_by("id").values_list(
        "id", "reason", "type_id", "customer__id_encrypted", "status", "current_step")

    def rows():
        chunk: list[tuple] = []
        for row in qs.iterator(chunk_size=CASE_CHUNK):
            chunk.append(row)
            if len(chunk) == CASE_CHUNK:
                yield from _case_rows(chunk)
                chunk = []
        if chunk:
            yield from _case_rows(chunk)
    return header, rows()


def _case_rows(chunk: list[tuple]) -> Iterable[list]:
    ids = [row[0] for row in chunk]
    steps: dict[int, list[tuple[int, str, str, str]]] = {}
    for case_id, order, post, kind, org in (CaseStep.objects.filter(case_id__in=ids).order_by("case_id", "order", "id")
                                            .values_list("case_id", "order", "post", "kind", "organisation__code")):
        steps.setdefault(case_id, []).append((order, post, kind, org))
    claimants: dict[int, list[str]] = {}
    for case_id, staff_no in (CaseClaimant.objects.filter(case_id__in=ids).order_by("case_id", "registered_at", "id")
                              .values_list("case_id", "staff__staff_no")):
        claimants.setdefault(case_id, []).append(staff_no)
    for pk, reason, code, enc, status, step in chunk:
        yield [pk, reason, code, decrypt(enc), status, step if status in ("pending", "returned") else "",
               _steps_text(steps.get(pk, [])), ";".join(claimants.get(pk, []))]


def _unscoped(name):
    return {"relationships": Relationship.objects.all(), "reservations": Reservation.objects.all(),
            "approval_cases": ApprovalCase.objects.all(), "performance": StaffPerformance.objects.all()}[name]


def _performance(user_scope, period=None):
    """Per month, staff and type; `--period YYYY-MM`."""
    return section12_export(user_scope("performance"), period)


EXPORTERS: dict[str, Callable[..., tuple[list[str], Iterable[list]]]] = {
    "relationships": _relationships, "reservations": _reservations, "approval_cases": _approval_cases,
    "performance": _performance,
}


def export_csv(*, actor, kind: str, out: TextIO, period: str | None = None, user_scope=None) -> int:
    """Write one export; `user_scope(name)` returns the caller's scoped queryset (commands: everything)."""
    if kind not in EXPORTERS:
        raise ValueError(f"export {kind!r} is not available yet")
    header, rows = EXPORTERS[kind](user_scope or _unscoped, **({"period": period} if kind == "performance" else {}))
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    PiiAccess.objects.create(actor=actor_user(actor), actor_label=actor_label(actor),
                             purpose=f"export {kind}", detail=period or "", rows=count)
    return count
