"""The approval engine (§9): opening cases with their steps, post designations, and acting on steps.

Every write runs in one transaction: the case row is locked first, then its steps in (order, id)
order, so two approvers on the same step serialise and the second is told the case has moved on
(R-APR-7). Every action writes one append-only CaseAction row (R-APR-8).

The package's modules, lowest first: `state` (the lock, the state machine, the holders), `steps` (opening cases),
`posts` (designations), `deciding` (acting on a step), `applicant` (withdraw, resubmit, documents). Callers
import from here.
"""
from approvals.services.applicant import (
    case_record_documents,
    case_resubmit,
    case_withdraw,
    is_case_applicant,
    may_record_documents,
)
from approvals.services.deciding import acting_step, case_act, check_decision, may_change_holders
from approvals.services.posts import current_assignments, post_assign
from approvals.services.state import DECISIONS, needs_documents
from approvals.services.steps import case_open, cases_open_bulk

__all__ = [
    "DECISIONS", "acting_step", "case_act", "case_open", "case_record_documents", "case_resubmit", "case_withdraw",
    "cases_open_bulk", "check_decision", "current_assignments", "is_case_applicant", "may_change_holders",
    "may_record_documents", "needs_documents", "post_assign",
]
