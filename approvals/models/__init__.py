"""Approval chains as data and the cases that move through them (§9).

A case carries what it decides (customer, type, proposed holders and ratios), so this app never imports
`reservations`; a reservation points at its case. One module per concept, lowest first: `chains` (posts, chains,
post holders), `cases` (the case and its actions), `steps` (a case's steps), `claims` (claimants and the broker
case's documents). Django and the migrations read the models from this package; callers import from here too.
`approvals.notices` (R-APR-9) is registered from here.
"""
from approvals.models.cases import (
    CLAIM_REASONS,
    OPEN_CASE_STATUSES,
    ApprovalCase,
    ApprovalCaseQuerySet,
    CaseAction,
    CaseOutcome,
    CaseReason,
    CaseStatus,
)
from approvals.models.chains import Chain, ChainStep, Post, PostAssignment
from approvals.models.claims import CaseClaimant, CaseDocuments
from approvals.models.steps import CaseStep, StepKind, StepState
from approvals.notices import (  # registered with this app (R-APR-9)
    Notification,
    NotificationPreference,
    Reminder,
    StepAssignee,
)

__all__ = [
    "ApprovalCase", "ApprovalCaseQuerySet", "CLAIM_REASONS", "CaseAction", "CaseClaimant", "CaseDocuments",
    "CaseOutcome", "CaseReason", "CaseStatus", "CaseStep", "Chain", "ChainStep", "Notification",
    "NotificationPreference", "OPEN_CASE_STATUSES", "Post", "PostAssignment", "Reminder", "StepAssignee",
    "StepKind", "StepState",
]
