"""The final approver's preview (issue 13): what each proposed holder would be credited under the current proposal
and under the edited one, computed by the nightly job's own crediting (`performance.preview`)."""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from approvals.models import ApprovalCase
from performance.preview import ZERO, Figures, Holding, credit_preview, preview_periods
from relationships.models import Staff
from relationships.services import parse_ratio

PERIOD_LABELS = {"opening": _("Opening month so far (from the opening date)"),
                 "last_full": _("Last full month (held for the whole month)")}


@dataclass
class PreviewRow:
    """A holder's figures under each proposal; None where he is not a holder of that proposal."""
    staff: Staff | None
    current: Figures | None
    edited: Figures | None


def holdings(shares: list[dict]) -> list[Holding] | None:
    """The proposal's shares as holdings; None while a ratio is invalid."""
    try:
        return [Holding(int(s["staff_id"]), parse_ratio(s["ratio"])) for s in shares]
    except (ValidationError, KeyError, TypeError, ValueError):
        return None


def case_preview(case: ApprovalCase, edited: list[dict] | None, staff: dict[int, Staff]) -> dict | None:
    """Per period, a row per holder of either proposal; `edited` None: the edited rows cannot be read yet."""
    if case.opening_date is None:
        return None
    current = holdings(case.proposed_shares) or []
    edited_holdings = holdings(edited) if edited is not None else None
    periods = preview_periods(case.opening_date, timezone.localdate())
    figures = credit_preview(customer_id=case.customer_id, type_id=case.type_id,
                             proposals={"current": current, "edited": edited_holdings or []}, periods=periods)
    in_current = {h.staff_id for h in current}
    in_edited = {h.staff_id for h in edited_holdings or []}
    ids = list(dict.fromkeys([h.staff_id for h in current] + [h.staff_id for h in edited_holdings or []]))

    def cell(name: str, kind: str, staff_id: int, holders: set[int]) -> Figures | None:
        return figures.get((name, kind, staff_id), ZERO) if staff_id in holders else None
    tables = []
    for p in periods:
        tables.append({"label": PERIOD_LABELS[p.kind], "start": p.start, "holds_from": p.holds_from,
                       "rows": [PreviewRow(staff.get(i), cell("current", p.kind, i, in_current),
                                           cell("edited", p.kind, i, in_edited)) for i in ids]})
    return {"tables": tables, "edited_readable": edited_holdings is not None}
