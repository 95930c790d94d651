"""What the case pages say in words: where a decided case went next, the holder editor's running total."""
from __future__ import annotations

from django.utils.translation import gettext as _

from approvals.models import ApprovalCase, CaseOutcome, CaseStatus
from approvals.selectors import person_name, waiting_at
from relationships.services import ratio_summary


def holder_totals(formset) -> dict:
    """R-RES-4's running total of the holder rows as typed (bound) or proposed (unbound)."""
    return vars(ratio_summary(form["ratio"].value() for form in formset.forms))


def where_next(case: ApprovalCase) -> str:
    """“final approval (Branch X): Zhang San” for each step the case now waits at."""
    parts = []
    for step, names in waiting_at(case):
        who = _(", ").join(names) if names else _("nobody designated yet")
        parts.append(_("%(post)s (%(organisation)s): %(who)s") % {
            "post": step.get_post_display(), "organisation": step.organisation.name, "who": who})
    return _("; ").join(parts)


def decision_message(case: ApprovalCase, decision: str) -> str:
    """After acting: what happened and where the case went (e.g. 已通过，已转至最终审批（…）：张三)."""
    if decision == "approve":
        if case.status == CaseStatus.APPROVED:
            if case.outcome == CaseOutcome.END:
                return _("Approved; the approval is complete and the relationship has been ended.")
            return _("Approved; the approval is complete and the relationship has been created.")
        return _("Approved; the case has gone to %(where)s.") % {"where": where_next(case)}
    if decision == "reject":
        return _("Rejected; the case is closed.")
    if decision == "return":
        applicant = case.applicant.name if case.applicant_id and case.applicant else person_name(case.filed_by)
        return _("Returned to the applicant for correction: %(name)s.") % {"name": applicant}
    if decision == "withdraw":
        return _("Withdrawn; the case is closed.")
    if decision == "resubmit":
        return _("Resubmitted; the case has gone to %(where)s.") % {"where": where_next(case)}
    return _("Your decision has been recorded.")
