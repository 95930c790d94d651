"""Organisation, people, customers, accounts and the relationships themselves.

This is the lowest app: nothing here imports from the apps above it. One module per concept, lowest first:
`org` (regions, organisations, staff, qualifications), `customers` (customers, accounts, account events),
`relationships` (types, relationships, shares, credit changes), `audit` (the append-only trails), `calendar`
(R-CAL-1), `secondary` (§7), `callbacks` (§11), `branch` (§8). Django and the migrations read the models from
this package; callers import from here too. `relationships.people_models` (R-STAFF-1) is registered from here.
"""
from relationships.models.audit import AuditEntry, PiiAccess
from relationships.models.branch import (
    BranchRequest,
    BranchRequestKind,
    BranchRequestStatus,
    CoreLineStatus,
    CoreListLine,
    CoreListSubmission,
)
from relationships.models.calendar import CalendarDay, CalendarYear
from relationships.models.callbacks import Callback, CallbackStatus, DisputeResolution
from relationships.models.customers import (
    MATCHABLE_EVENT_KINDS,
    Account,
    AccountEvent,
    AccountType,
    Customer,
    EventConflict,
    EventKind,
    MatchState,
)
from relationships.models.org import (
    FRONT_KINDS,
    Organisation,
    OrgKind,
    Qualification,
    QualificationKind,
    Region,
    Staff,
    StaffKind,
)
from relationships.models.relationships import (
    RELATIONSHIP_SOURCES,
    CreditChange,
    Relationship,
    RelationshipShare,
    RelationshipStatus,
    RelationshipType,
)
from relationships.models.secondary import CustomerClass, CustomerClassKind, PreAssignment, PreAssignmentStatus
from relationships.people_models import (  # registered with this app (R-STAFF-1)
    Reassignment,
    ReassignmentLine,
    ReassignmentLineStatus,
    ReassignmentStatus,
    StaffMembership,
)

__all__ = [
    "Account", "AccountEvent", "AccountType", "AuditEntry", "BranchRequest", "BranchRequestKind",
    "BranchRequestStatus", "CalendarDay", "CalendarYear", "Callback", "CallbackStatus", "CoreLineStatus",
    "CoreListLine", "CoreListSubmission", "CreditChange", "Customer", "CustomerClass", "CustomerClassKind",
    "DisputeResolution", "EventConflict", "EventKind", "FRONT_KINDS", "MATCHABLE_EVENT_KINDS", "MatchState",
    "OrgKind", "Organisation", "PiiAccess", "PreAssignment", "PreAssignmentStatus", "Qualification",
    "QualificationKind", "RELATIONSHIP_SOURCES", "Reassignment", "ReassignmentLine", "ReassignmentLineStatus",
    "ReassignmentStatus", "Region", "Relationship", "RelationshipShare", "RelationshipStatus", "RelationshipType",
    "Staff", "StaffKind", "StaffMembership",
]
