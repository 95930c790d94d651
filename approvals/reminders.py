"""The nightly reminder stage (R-APR-9): waiting work is reminded, then escalated.

For the business date D, a step that has waited `APPROVAL_REMIND_DAYS` working days by D (counted with the
project's calendar, relationships/workdays.py) is reminded to its holders; one that has waited
`APPROVAL_ESCALATE_DAYS` is escalated to its branch head (an HQ step to HQ's office), who sees it marked and may
act on it. A pending callback is handled the same way, counted from its due date. Each kind is one
INSERT … SELECT; the partial unique indexes on `Reminder` make a re-run insert nothing (no double reminder),
and only the rows a run inserted are told (approvals.notifications).
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import TruncDate

from approvals.notices import ReminderKind
from approvals.notifications import notify_reminders
from approvals.waiting import current_steps, escalation_organisation, waiting_since
from common.actors import BATCH
from relationships.audit import audit_many
from relationships.models import Callback, CallbackStatus
from relationships.workdays import nth_workday_back, unknown_years


def _insert(qs: QuerySet, *, kind: str, target: str, business_date: dt.date, escalate: bool) -> list[tuple]:
    """INSERT one reminder of `kind` per row of `qs` (its id, and its escalation organisation) not reminded yet."""
    columns = ("pk", "esc") if escalate else ("pk",)
    sql, params = qs.values_list(*columns).query.sql_with_params()
    other = "callback_id" if target == "step_id" else "step_id"
    esc = "sub.esc" if escalate else "NULL"
    aliases = "sub(id, esc)" if escalate else "sub(id)"
    with connection.cursor() as cur:
        cur.execute(f"""
            INSERT INTO approvals_reminder (kind, {target}, {other}, escalated_to_id, business_date, created_at)
            SELECT %s, sub.id, NULL, {esc}, %s, now() FROM ({sql}) AS {aliases}
            {"WHERE sub.esc IS NOT NULL" if escalate else ""}
            ORDER BY sub.id
            ON CONFLICT DO NOTHING
            RETURNING id, {target}, escalated_to_id""", [kind, business_date, *params])
        return cur.fetchall()


def reminders_run(*, business_date: dt.date) -> dict[str, int]:
    """The stage: remind and escalate waiting steps and overdue callbacks as of `business_date`."""
    remind_before = nth_workday_back(business_date, settings.APPROVAL_REMIND_DAYS)
    escalate_before = nth_workday_back(business_date, settings.APPROVAL_ESCALATE_DAYS)
    steps = current_steps().annotate(waiting_day=TruncDate(waiting_since()), esc=escalation_organisation())
    callbacks = Callback.objects.filter(status=CallbackStatus.PENDING).annotate(esc=F("outlet__branch_id"))
    counts: dict[str, int] = {}
    with transaction.atomic():
        inserted = []
        for name, due, target, kind in (
                ("steps_reminded", steps.filter(waiting_day__lt=remind_before), "step_id", ReminderKind.REMIND),
                ("steps_escalated", steps.filter(waiting_day__lt=escalate_before), "step_id", ReminderKind.ESCALATE),
                ("callbacks_reminded", callbacks.filter(due_on__lt=remind_before), "callback_id",
                 ReminderKind.REMIND),
                ("callbacks_escalated", callbacks.filter(due_on__lt=escalate_before), "callback_id",
                 ReminderKind.ESCALATE)):
            rows = _insert(due, kind=kind, target=target, business_date=business_date,
                           escalate=kind == ReminderKind.ESCALATE)
            counts[name] = len(rows)
            inserted += rows
            audit_many(actor=BATCH, action="reminder.escalate" if kind == ReminderKind.ESCALATE else "reminder.remind",
                       model_label="approvals.reminder", rows=[
                (pk, None, {target.removesuffix("_id"): obj, "escalated_to": esc,
                            "business_date": business_date.isoformat()}) for pk, obj, esc in rows])
        notify_reminders([pk for pk, _obj, _esc in inserted])
    if any(counts.values()) and unknown_years(range(escalate_before.year, business_date.year + 1)):
        counts["reminders_calendar_unknown"] = sum(counts.values())  # R-CAL-1: counted Monday to Friday
    return {k: v for k, v in counts.items() if v} or {"reminders": 0}
