"""R-PERM-3: the permission register exported as CSV (§12 conventions) or Excel, streamed in id order.

Two formats. The exports the site offers (the register page's, the admin's actions) are for people — an auditor
opens them in Excel — and read in the reader's language (issue 19): translated headers, the event's label,
what the entry records rendered from its message, times in local time, and the detail written as words (field
labels, before → after, choice values as their labels; internal ids left out). The machine format — event and
branch codes, ids and the raw JSON detail, `MACHINE_COLUMNS` — is for other systems: `manage.py
export_register` writes it (`machine_rows`).
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy, pgettext

from approvals.models import Post
from common.spreadsheets import csv_writer
from common.tables import csv_stream_response
from common.tables import xlsx_response as xlsx_response_of_rows
from permissions.models import ApplicationAction, PermissionRegisterEntry, RoleKind, RoleSource
from relationships.models import QualificationKind

# The machine format (manage.py export_register): codes and JSON, for other systems.
MACHINE_COLUMNS = ["entry_id", "at", "event", "branch", "application_id", "subject", "what", "reason", "applicant",
                   "signoff", "approved_by", "applied_by", "recorded_by", "detail"]

# The people's format: one header each, in the reader's language.
COLUMNS = [gettext_lazy("No."), gettext_lazy("Time"), gettext_lazy("Event"), gettext_lazy("Branch company"),
           gettext_lazy("Application"), gettext_lazy("Concerns"), gettext_lazy("What"), gettext_lazy("Reason"),
           gettext_lazy("Applicant"), gettext_lazy("Applicant's sign-off"), gettext_lazy("Approved by"),
           gettext_lazy("Applied by"), gettext_lazy("Recorded by"), gettext_lazy("Detail")]


def machine_rows(qs) -> Iterator[list]:
    """The register in the machine format: codes, ISO times, the detail as JSON."""
    qs = qs.select_related("branch").order_by("at", "id")
    for e in qs.iterator(chunk_size=2000):
        yield [e.pk, timezone.localtime(e.at).isoformat(), e.event, e.branch.code if e.branch_id else "",
               e.application_id or "", e.subject_label, e.what, e.reason, e.applicant_label, e.signoff,
               e.approver_label, e.applier_label, e.actor_label,
               json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail is not None else ""]


def rows(qs) -> Iterator[list]:
    """The register as people read it, in the language active now."""
    qs = qs.select_related("branch").order_by("at", "id")
    for e in qs.iterator(chunk_size=2000):
        yield [e.pk, f"{timezone.localtime(e.at):%Y-%m-%d %H:%M:%S}", e.get_event_display(),
               e.branch.name if e.branch_id else "", e.application_id or "", e.subject_label, e.what_text, e.reason,
               e.applicant_label, e.signoff_text, e.approver_label, e.applier_label, e.actor_text,
               detail_words(e.detail)]


def csv_response(qs, filename: str = "permission_register.csv") -> StreamingHttpResponse:
    """For people: with a BOM, so that Excel reads the Chinese."""
    return csv_stream_response([[str(c) for c in COLUMNS]], rows(qs), filename=filename)


def xlsx_response(qs, filename: str = "permission_register.xlsx") -> FileResponse:
    return xlsx_response_of_rows(itertools.chain([[str(c) for c in COLUMNS]], rows(qs)), filename=filename,
                                 sheet=str(PermissionRegisterEntry._meta.verbose_name_plural))


# --- the detail in words -------------------------------------------------------------------------------------

# Internal ids, which say nothing to a reader (the application's number has its own column).
_LEFT_OUT = {"role_id", "organisation_id", "application", "assignment", "step"}


def _choice(choices, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)


def _local_time(value: Any) -> str:
    at = parse_datetime(value) if isinstance(value, str) else None
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}" if at is not None and timezone.is_aware(at) else _plain(value)


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "—"
    return str(value)


def _attach(value: Any) -> str:
    if not isinstance(value, bool):
        return _plain(value)
    return pgettext("attach permission", "open") if value else pgettext("attach permission", "closed")


# Top-level keys and the keys of a before/after state: (label, how its value reads).
_FIELDS: dict[str, tuple[Any, Any]] = {
    "action": (gettext_lazy("action"), lambda v: _choice(ApplicationAction, v)),
    "source": (gettext_lazy("source"), lambda v: _choice(RoleSource, v)),
    "group": (gettext_lazy("directory group"), _plain),
    "post": (gettext_lazy("post"), lambda v: _choice(Post, v)),
    "delegations_ended": (gettext_lazy("delegations ended"), lambda v: _plain(len(v) if isinstance(v, list) else v)),
    "authenticators": (gettext_lazy("authenticators"), _plain),
    "confirmed": (gettext_lazy("confirmed authenticators"), _plain),
    "recovery_devices": (gettext_lazy("recovery code sets"), _plain),
    "username": (gettext_lazy("user name"), _plain),
    "failures": (gettext_lazy("failed attempts"), _plain),
    "locked_until": (gettext_lazy("locked until"), _local_time),
    "addresses": (gettext_lazy("addresses"), _plain),
    "attach_open": (gettext_lazy("attach permission"), _attach),
    "number": (gettext_lazy("certificate number"), _plain),
    "valid_from": (gettext_lazy("valid from"), _plain),
    "valid_to": (gettext_lazy("valid to"), _plain),
}


def _state(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A before or after state (a role, a qualification, attach permission) as (label, value) pairs."""
    pairs: list[tuple[str, str]] = []
    is_role = "organisation_code" in state or "organisation_name" in state
    for key, value in state.items():
        if key in _LEFT_OUT or key == "organisation_code" and "organisation_name" in state:
            continue
        if key == "kind":
            pairs.append((gettext("role"), _choice(RoleKind, value)) if is_role
                         else (gettext("qualification"), _choice(QualificationKind, value)))
        elif key == "organisation_name":
            code = state.get("organisation_code")
            pairs.append((gettext("organisation"), f"{value} ({code})" if code else _plain(value)))
        elif key == "organisation_code":
            pairs.append((gettext("organisation"), _plain(value)))
        elif key == "from":
            pairs.append((gettext("from"), _plain(value)))
        else:
            pairs.append(_field(key, value))
    return _ordered(pairs)


_ORDER = ["role", "qualification", "organisation", "certificate number", "valid from", "valid to"]


def _ordered(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The state's pairs in one order whatever the stored keys' order (the JSON column sorts them)."""
    rank = {str(gettext(label)): n for n, label in enumerate(_ORDER)}
    return sorted(pairs, key=lambda p: rank.get(p[0], len(rank)))


def _field(key: str, value: Any) -> tuple[str, str]:
    label, words = _FIELDS.get(key, (key.replace("_", " "), _plain))
    return str(label), words(value)


def _labelled(label: str, value: str) -> str:
    return gettext("%(field)s: %(value)s") % {"field": label, "value": value}


def _changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """Each field of a before and an after state: "label: before → after", or "label: value" if unchanged."""
    old, new = dict(_state(before or {})), dict(_state(after or {}))
    parts = []
    for label in dict.fromkeys([*old, *new]):
        was, now = old.get(label, "—"), new.get(label, "—")
        parts.append(_labelled(label, now if was == now else gettext("%(before)s → %(after)s") % {
            "before": was, "after": now}))
    return parts


def detail_words(detail: Any) -> str:
    """A register entry's detail as a reader reads it (issue 19): "field: value; …", a change of state as
    "field: before → after"; internal ids left out; in the language active now."""
    if detail is None or detail == {}:
        return ""
    if not isinstance(detail, dict):
        return _plain(detail)
    parts: list[str] = []
    if "before" in detail or "after" in detail:
        parts += _changes(detail.get("before"), detail.get("after"))
    for key, value in detail.items():
        if key in ("before", "after") or key in _LEFT_OUT:
            continue
        if key == "from":
            parts.append(_labelled(gettext("previous assignee"), _plain(value)))
        else:
            parts.append(_labelled(*_field(key, value)))
    return "; ".join(parts)


def machine_csv(qs, out) -> int:
    """Write the machine format as CSV (no BOM, §12) to `out`, a text file; returns the number of entries."""
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(MACHINE_COLUMNS)
    n = 0
    for n, row in enumerate(machine_rows(qs), start=1):  # noqa: B007 (n is the count)
        writer.writerow(row)
    return n
