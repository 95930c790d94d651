"""Which chain a case enters (R-APR-1/2): read from data, not branched per type in views."""
from __future__ import annotations

from approvals.models import CaseReason, Chain
from relationships.models import RelationshipType

_BY_REASON = {
    CaseReason.BROKER: "broker",
    CaseReason.CROSS_REGION: "cross_region",
    CaseReason.SPECIAL_NEW: "special_new",
    CaseReason.BRANCH_CREATED: "one_level",
    CaseReason.CORE_LIST: "core_list",
    CaseReason.REASSIGNMENT: "reassignment",  # R-STAFF-1: the branch's 1-level chain
}


# The reasons whose chain is the type's own when its row names one (R-TYPE-2): an always-approved type, a
# branch-created type, a core list.
_TYPE_CHAIN_REASONS = (CaseReason.BROKER, CaseReason.BRANCH_CREATED, CaseReason.CORE_LIST)


def chain_code_for(reason: str, rel_type: RelationshipType) -> str:
    if reason in (CaseReason.LATE, CaseReason.DUPLICATE):
        return rel_type.chain_late or rel_type.chain_always or "three_level"
    if reason in _TYPE_CHAIN_REASONS and rel_type.chain_always:
        return rel_type.chain_always
    return _BY_REASON[CaseReason(reason)]


def active_chains() -> dict[str, Chain]:
    return {c.code: c for c in Chain.objects.filter(active=True)}
