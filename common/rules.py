"""Every rule of the measures (SPEC.md), in words, for the rules page and the links from explanations.

Data, not code: an ID, the section it belongs to and its text (English msgid, Chinese in the catalogue),
shown in the reader's language. Imports nothing of the apps (the bottom layer).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Rule:
    id: str
    section: str
    text: Promise


SECTIONS: dict[str, Promise] = {
    "org": _('Organisation and people'),
    "att": _('Attach permission'),
    "perm": _('Permission administration and personal information'),
    "types": _('Relationship types'),
    "res": _('Reservations'),
    "match": _('Matching'),
    "sec": _('Secondary development and special new accounts'),
    "branch": _('Branch-created relationships and core service'),
    "apr": _('Approvals'),
    "perf": _('Performance'),
    "follow": _('Follow-up'),
    "ops": _('Operating the platform over time'),
}

RULES: tuple[Rule, ...] = (
    Rule("R-ORG-1", "org", _(
        'Three levels of organisation: head office, branch companies and outlets under a branch. Every '
        'branch belongs to a region; cross-region means the branches differ.'
    )),
    Rule("R-ORG-2", "org", _(
        'Marketing staff are front staff employed at an outlet (investment advisors, account managers, '
        'other front staff) or external securities brokers on an agency contract with an outlet. Each has '
        'a unique staff number and belongs to exactly one outlet at a time.'
    )),
    Rule("R-ORG-3", "org", _(
        'Brokers form a tree: a parent broker sees his own customers, his child brokers and their '
        'customers. No one else gains visibility through the tree.'
    )),
    Rule("R-ORG-4", "org", _(
        'Qualifications are recorded per staff member with certificate number and validity dates: '
        'securities practice, futures practice, investment consulting, securities broker. A lapsed '
        'qualification counts as absent.'
    )),
    Rule("R-ATT-1", "att", _(
        'A relationship can be attached to a staff member only while his attach permission is open and he '
        'holds the qualification the relationship type needs. Opening and closing attach permission is '
        'recorded with who, when and why.'
    )),
    Rule("R-ATT-2", "att", _(
        'Closing attach permission stops new attachments; existing relationships stay until the branch '
        'ends or reassigns them.'
    )),
    Rule("R-PERM-1", "perm", _(
        'Permissions are tiered: head office assigns a branch permission admin per branch, who manages '
        'the users and roles of his own branch only.'
    )),
    Rule("R-PERM-2", "perm", _(
        "Granting, changing or revoking a branch user's permissions is an application that the branch "
        'head approves before the branch permission admin applies it.'
    )),
    Rule("R-PERM-3", "perm", _(
        'Every application, approval, adjustment and revocation is written to the permission register '
        "with the applicant's sign-off; the register is append-only and can be exported."
    )),
    Rule("R-PERM-4", "perm", _(
        'Staff see their own customers (brokers also their tree), outlet heads their outlet, branch roles '
        "their branch, head office everything. A row outside one's scope is answered as not found."
    )),
    Rule("R-PII-1", "perm", _(
        'ID card and phone numbers are stored encrypted beside a keyed hash, shown masked except to roles '
        'that need them, and every unmasked view or export is logged. The key can be rotated while the '
        'site runs.'
    )),
    Rule("R-SEC-AUTH-1", "perm", _(
        'Sign-in locks an account after repeated failures, per account and never per address alone; '
        'sessions end after idle time and after an absolute limit; the branch permission admin can lift a '
        "lockout of his branch's users."
    )),
    Rule("R-SEC-AUTH-2", "perm", _(
        "Staff sign in with the brokerage's directory when one is configured; roles with full personal "
        'information, head-office roles and the administration site need a second factor.'
    )),
    Rule("R-TYPE-1", "types", _(
        "Head office may add relationship types: the type list, each type's holders, qualification and "
        'approval chain are data, not code.'
    )),
    Rule("R-RES-1", "res", _(
        'A reservation records the staff member, relationship type, customer name, ID card number, phone, '
        'registration time and, for co-development, the participants with their split ratios.'
    )),
    Rule("R-RES-2", "res", _(
        'A reservation is valid for one calendar month from registration and matches only openings inside '
        'its validity.'
    )),
    Rule("R-RES-3", "res", _(
        'ID card numbers and phone numbers are validated; bad input gets a clear message on the field and '
        'nothing is saved.'
    )),
    Rule("R-RES-4", "res", _(
        'Split ratios: each greater than 0, at most 4 decimal places, together not more than 1; the part '
        'not allocated stays with no one. A broker development allows exactly one participant with ratio '
        '1.'
    )),
    Rule("R-RES-5", "res", _(
        'A reservation for a customer who already holds that relationship type is refused, naming the '
        "existing holder's outlet."
    )),
    Rule("R-RES-6", "res", _(
        'Staff may withdraw their own reservation before it matches; the withdrawal is logged.'
    )),
    Rule("R-MATCH-1", "match", _(
        'On-time match: exactly one valid reservation registered before the opening, with the same ID '
        'number and an agreeing name, creates the relationship at once, with its split ratios, effective '
        'from the opening date.'
    )),
    Rule("R-MATCH-2", "match", _(
        'If the names disagree no relationship is created; the reservation is flagged for the staff and '
        'the outlet to correct.'
    )),
    Rule("R-MATCH-3", "match", _(
        'Duplicate reservations: when reservations of two or more staff for the same customer and type '
        'are valid at the opening, none is created automatically; one conflict case holds every competing '
        'claim while it is open, and its final approver decides the holders and ratios.'
    )),
    Rule("R-MATCH-4", "match", _(
        'Late reservation: registered after the opening but no later than the end of the 7th working day '
        'after the opening date, it goes to approval; after that window it is refused.'
    )),
    Rule("R-MATCH-5", "match", _(
        "Cross-region: when a participant's branch differs from the branch of the opening outlet, the "
        'relationship is created only after every branch involved has confirmed and head office has '
        'approved, on every path to the relationship.'
    )),
    Rule("R-MATCH-6", "match", _(
        'The nightly batch is idempotent: running it twice, or again after a crash, leaves the same '
        'relationships and cases as one clean run.'
    )),
    Rule("R-MATCH-7", "match", _(
        'Every nightly run is recorded with its date, times, counts, status and error.'
    )),
    Rule("R-MATCH-8", "match", _(
        'Reservations past their validity without a match are marked expired.'
    )),
    Rule("R-SEC-1", "sec", _(
        'Lost customer: closed his account or cancelled his Shanghai designated trading; reactivation '
        'counts when he comes back more than three months later.'
    )),
    Rule("R-SEC-2", "sec", _(
        'Dormant customer: reactivation is an activation or a reopening.'
    )),
    Rule("R-SEC-3", "sec", _(
        'Silent customer: assets below 1,000 yuan and no trade at 12 consecutive month-ends; reactivation '
        'needs a transfer-in of at least 1,000 yuan and a trade.'
    )),
    Rule("R-SEC-4", "sec", _(
        'The branch pre-assigns lost, dormant and silent customers to front staff; the assignee reserves '
        'before reactivation and the batch creates the secondary development relationship on '
        'reactivation.'
    )),
    Rule("R-SEC-5", "sec", _(
        'Special new: a lost, dormant or silent customer developed without a pre-assignment goes through '
        'the branch designated person, the branch head or delegate, and head office.'
    )),
    Rule("R-SEC-6", "sec", _(
        'Lost, dormant and silent are derived nightly from account events and month-end assets, never '
        'typed in by hand.'
    )),
    Rule("R-BR-1", "branch", _(
        'Existing development, maintenance and key service relationships are created by the branch with '
        'participants and ratios, approved at one level, and can later be ended or replaced; every '
        'version keeps its validity dates.'
    )),
    Rule("R-CORE-1", "branch", _(
        'Only natural new customers whose account has been open for at least 12 months may be core '
        'customers, held by one investment advisor with investment consulting qualification, at most 100 '
        'per advisor.'
    )),
    Rule("R-CORE-2", "branch", _(
        'The branch submits its core list; head office reviews it line by line; approved lines become '
        'core service relationships.'
    )),
    Rule("R-CORE-3", "branch", _(
        'Core lists can be changed only in January and July.'
    )),
    Rule("R-APR-1", "apr", _(
        'Approval chains are data: ordered steps, each naming a post. The branch head designates who '
        'holds each post at his branch and may name a delegate for final approval.'
    )),
    Rule("R-APR-2", "apr", _(
        'Three levels: account-opening review, outlet review, final approval. Two levels (IB): outlet '
        'head, then branch head or delegate. One level: the branch designated person. Special new: '
        'designated person, branch head or delegate, head office.'
    )),
    Rule("R-APR-3", "apr", _(
        'A step is decided only by a current holder of its post or a delegate; nobody approves two steps '
        'of one case; nobody who is or was a claimant, participant or proposed holder acts on the case, '
        'and a final approver may not name himself or an earlier approver as a holder.'
    )),
    Rule("R-APR-4", "apr", _(
        'Each step approves, rejects (ends the case, reason required) or returns the case for correction '
        '(reason required). The applicant may withdraw before the final step. The final approver may '
        'change holders and ratios within the ratio rules.'
    )),
    Rule("R-APR-5", "apr", _(
        'A broker development is confirmed only after three levels and only when the risk disclosure form '
        'and the customer service confirmation are recorded as received and reviewed.'
    )),
    Rule("R-APR-6", "apr", _(
        'Cross-region cases: the branches confirm in parallel, then head office decides; head-office '
        'reviewers have an inbox of every pending cross-region and special-new case.'
    )),
    Rule("R-APR-7", "apr", _(
        'When two approvers act on the same step at the same moment, exactly one succeeds and the other '
        'is told the case has moved on.'
    )),
    Rule("R-APR-8", "apr", _(
        'Every action (who, post, decision, reason, time, before and after) is kept for ever and shown on '
        'the case.'
    )),
    Rule("R-APR-9", "apr", _(
        'Nothing waits unseen: waiting steps are reminded and then escalated to the branch head; holders '
        "are told by e-mail and a daily digest; the home page and inbox show each item's age in working "
        'days.'
    )),
    Rule("R-APR-10", "apr", _(
        'Post designations and delegations have dates, can be ended early and are managed by the branch '
        "head on a page of the site; a step's waiting work can be reassigned to another holder of the "
        'same post, with a reason.'
    )),
    Rule("R-PERF-1", "perf", _(
        "A customer's daily figures are credited to each holder of a share active that day times the "
        "share's ratio, per relationship type; amounts are rounded once, half-up, when reported."
    )),
    Rule("R-PERF-2", "perf", _(
        'Figures are aggregated per staff, outlet, branch, region and type, per day, month and year, with '
        'average daily assets over calendar days and new effective customers credited by ratio.'
    )),
    Rule("R-PERF-3", "perf", _(
        'A share counts from its effective date up to, but not including, its end date; changes never '
        'rewrite a period locked by head office.'
    )),
    Rule("R-PERF-4", "perf", _(
        'Results are exportable and shown as tables and charts.'
    )),
    Rule("R-PERF-5", "perf", _(
        'A change reaching back into a locked period is posted as adjustment rows in the first open '
        'period; head office may reopen a locked period only with a reason.'
    )),
    Rule("R-CB-1", "follow", _(
        'Every new relationship creates a callback task for the outlet; a disputed relationship goes back '
        'to the branch.'
    )),
    Rule("R-REM-1", "follow", _(
        "Each user's home page lists what needs him: reservations about to expire, flagged reservations, "
        'approval steps waiting for him, callbacks due.'
    )),
    Rule("R-CAL-1", "ops", _(
        "Working days come from the calendar library and, for later years, from head office's own "
        'calendar; a decision that counted working days in an unknown year counts Monday to Friday and is '
        'marked for review.'
    )),
    Rule("R-STAFF-1", "ops", _(
        'When a staff member leaves or moves, the branch reassigns his relationships as one reassignment '
        'case; until then they stay and are listed as awaiting reassignment.'
    )),
    Rule("R-TYPE-2", "ops", _(
        'Head office maintains relationship types, chains and their steps in the administration site; a '
        'new type or chain version applies to cases opened afterwards.'
    )),
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
# A rule's place in its section (1-based): what a reader is shown instead of its internal ID.
_NUMBER: dict[str, int] = {}
for _rule in RULES:
    _NUMBER[_rule.id] = sum(1 for r in RULES if r.section == _rule.section and _NUMBER.get(r.id)) + 1


def rule_label(rule_id: str) -> str:
    """The rule in words, in the reader's language: "审批第3条" / "Approvals, rule 3". An unknown ID gives
    "the rule" (never the ID itself: rule IDs are internal)."""
    rule = BY_ID.get(rule_id)
    if rule is None:
        return gettext("the rule")
    return gettext("%(section)s, rule %(n)d") % {"section": SECTIONS[rule.section], "n": _NUMBER[rule_id]}
