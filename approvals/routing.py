"""Cross-region on every path (R-MATCH-5, R-APR-6): where a case's holders or claimants span branches, the case
gains the branches' confirmations — the opening branch's and each other branch's, in parallel — and then HQ's
approval, after its own chain (late, duplicate / conflict, broker, special new, and the on-time cross-region
chain, whose own steps are already those confirmations).

The steps are planned here, in memory; the services write them (at opening, when a claimant joins, and when a
final approver's change of holders brings in another branch's staff — before the case can complete).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from approvals.models import CLAIM_REASONS, ApprovalCase, CaseReason, CaseStep, Post, StepKind, StepState

CONFIRMING_SCOPES = ("opening_branch", "participant_branches")  # a chain's own branch confirmations (R-APR-6)


def routes_cross_region(case: ApprovalCase) -> bool:
    """The cases R-MATCH-5 covers: every claim on a type that checks regions (`NEW_DEV`), broker development and
    special new — read from the type's row and the case's reason, never branched per type elsewhere."""
    if case.reason == CaseReason.REASSIGNMENT:  # R-STAFF-1: another branch's staff taking over
        return True
    if case.reason not in CLAIM_REASONS:
        return False
    rt = case.type
    return bool(rt.cross_region_check or rt.chain_always == "broker"
                or case.reason in (CaseReason.BROKER, CaseReason.SPECIAL_NEW))


def staff_ids_of(case: ApprovalCase, claims: Iterable[Any] = ()) -> set[int]:
    """The staff a case may give the relationship to: its proposed holders, its claimants and their co-developers."""
    ids = {int(s["staff_id"]) for s in case.proposed_shares}
    for claim in claims:
        ids.add(int(claim.staff_id))
        ids |= {int(s["staff_id"]) for s in claim.shares}
    return ids


def deciding_order(steps: Sequence[CaseStep]) -> int | None:
    """The case's own chain's last step: its final approver decides holders and ratios (R-MATCH-3, R-APR-4)."""
    orders = [s.order for s in steps if s.kind == StepKind.CHAIN]
    return max(orders) if orders else None


def plan_confirmations(case: ApprovalCase, steps: list[CaseStep], *, branches: set[int], opening_branch: int | None,
                       hq_id: Callable[[], int]) -> list[CaseStep]:
    """The steps `case` must gain so that every branch of `branches` has confirmed and HQ approves after them.

    - A pending group of confirmations gets the branches it lacks (a branch that already confirmed is not asked
      again); HQ after it is added if no pending HQ step follows.
    - Otherwise a new group follows the last step, then HQ. At opening (nothing decided yet) a chain that already
      ends at HQ (special new) keeps one HQ step: the confirmations go before it.
    `steps` are the case's steps (unsaved at opening); orders of the unsaved ones may be moved.
    """
    if opening_branch is None:
        return []
    others = {b for b in branches if b and b != opening_branch}
    if not others:
        return []
    wanted = others | {opening_branch}
    confirmed = {s.organisation_id for s in steps if s.kind == StepKind.CONFIRM and s.state == StepState.APPROVED}
    pending_groups = sorted({s.order for s in steps if s.kind == StepKind.CONFIRM and s.state == StepState.PENDING})
    max_order = max((s.order for s in steps), default=0)
    new: list[CaseStep] = []
    if pending_groups:
        order = pending_groups[0]
        have = {s.organisation_id for s in steps if s.kind == StepKind.CONFIRM and s.order == order}
        new += [_confirm(case, order, b) for b in sorted(wanted - have - confirmed)]
        if new and not any(s.post == Post.HQ and s.state == StepState.PENDING and s.order > order for s in steps):
            new.append(CaseStep(case=case, order=max_order + 1, post=Post.HQ, organisation_id=hq_id(),
                                kind=StepKind.HQ))
        return new
    missing = wanted - confirmed
    if not missing:
        return []
    trailing = [s for s in steps if s.order == max_order]
    if steps and all(s.pk is None for s in steps) and all(s.post == Post.HQ for s in trailing):
        for s in trailing:
            s.order = max_order + 1
        return [_confirm(case, max_order, b) for b in sorted(missing)]
    new = [_confirm(case, max_order + 1, b) for b in sorted(missing)]
    new.append(CaseStep(case=case, order=max_order + 2, post=Post.HQ, organisation_id=hq_id(), kind=StepKind.HQ))
    return new


def _confirm(case: ApprovalCase, order: int, branch_id: int) -> CaseStep:
    """A branch confirms through its final approver (最终审批, or his delegate), like the on-time chain's steps."""
    return CaseStep(case=case, order=order, post=Post.FINAL_APPROVAL, organisation_id=branch_id,
                    kind=StepKind.CONFIRM)
