"""Why a case exists, in words (issue 13): a code and its facts are stored on the case; the sentence naming the
rule of the measures is written at read time, in the reader's language, with today's names.

`EXPLANATIONS[code]` gives the rule and the sentence; the openers of cases pass `explanation_code` and
`explanation_params` (dates as ISO text, staff ids, counts, and the applicant's `note`). A case without a code
(opened before codes existed) shows its stored text.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals.models import ApprovalCase
from relationships.models import CustomerClassKind, Staff


class Code:
    LATE = "late"
    DUPLICATE = "duplicate"
    BROKER = "broker"
    CROSS_REGION = "cross_region"
    SPECIAL_NEW = "special_new"
    BRANCH_CREATE = "branch_create"
    BRANCH_REPLACE = "branch_replace"
    BRANCH_END = "branch_end"
    CORE_LINE = "core_line"
    CORE_REMOVE = "core_remove"
    REASSIGN = "reassign"
    # The nightly matching's reasons (R-MATCH-3/4/5, R-APR-5).
    BY_REASON = {"duplicate": DUPLICATE, "late": LATE, "broker": BROKER, "cross_region": CROSS_REGION}


@dataclass(frozen=True)
class Article:
    """The platform's rule, the sentence, and where the measures say it: article 9, item (`item`, or the item of
    the case's type when None), point `point` (《经纪业务机构管理平台客户关系管理办法》)."""
    rule_id: str
    sentence: Promise
    item: int | None = None
    point: int | None = None


# Article 9 of the measures has one item per relationship type, (1) to (10), each with its confirmation process.
MEASURES_ITEM_OF_TYPE = {"NEW_DEV": 1, "SECONDARY_DEV": 2, "CORE_SERVICE": 3, "IB_SERVICE": 4, "CREDIT_DEV": 5,
                         "REPURCHASE_DEV": 6, "BROKER_DEV": 7, "EXISTING_DEV": 8, "MAINTENANCE": 9, "KEY_SERVICE": 10}
ITEM_WORDS = {1: gettext_lazy("item (1)"), 2: gettext_lazy("item (2)"), 3: gettext_lazy("item (3)"),
              4: gettext_lazy("item (4)"), 5: gettext_lazy("item (5)"), 6: gettext_lazy("item (6)"),
              7: gettext_lazy("item (7)"), 8: gettext_lazy("item (8)"), 9: gettext_lazy("item (9)"),
              10: gettext_lazy("item (10)")}


EXPLANATIONS: dict[str, Article] = {
    Code.LATE: Article("R-MATCH-4", gettext_lazy(
        "Under %(citation)s, "
        "the rule on late reservations, a reservation registered after the account was opened, within 7 "
        "working days of the opening date, needs approval. %(staff)s registered it on %(registered)s; the account "
        "was opened on %(opened)s at %(outlet)s (%(branch)s); the window ended on %(deadline)s."),
        item=None, point=2),
    Code.DUPLICATE: Article("R-MATCH-3", gettext_lazy(
        "Under %(citation)s, "
        "the rule on duplicate reservations, when reservations of two or more staff for the same customer and "
        "type are valid at the opening, no relationship is created automatically and the final approver decides "
        "the holders and ratios. %(count)s staff reserved this customer: %(claimants)s. The account was opened on "
        "%(opened)s at %(outlet)s (%(branch)s)."),
        item=None, point=2),
    Code.BROKER: Article("R-APR-5", gettext_lazy(
        "Under %(citation)s, "
        "the rule on broker development, the relationship is confirmed only after three levels of approval "
        "and once the risk disclosure form and the customer service confirmation are received and reviewed. "
        "Broker: %(holders)s; the account was opened on %(opened)s at %(outlet)s (%(branch)s)."),
        item=7, point=None),
    Code.CROSS_REGION: Article("R-MATCH-5", gettext_lazy(
        "Under %(citation)s, "
        "the rule on cross-region development, when a developer's branch differs from the branch of the "
        "opening outlet, every branch involved confirms and then head office approves. The account was opened on "
        "%(opened)s at %(outlet)s (%(branch)s); developers of other branches: %(others)s."),
        item=1, point=4),
    Code.SPECIAL_NEW: Article("R-SEC-5", gettext_lazy(
        "Under %(citation)s, "
        "the rule on special new accounts, a lost, dormant or silent customer developed without a "
        "pre-assignment goes through the branch designated person, the branch head or delegate, and head office. "
        "The customer has been %(kind)s since %(since)s; developed by %(holders)s."),
        item=2, point=2),
    Code.BRANCH_CREATE: Article("R-BR-1", gettext_lazy(
        "Under %(citation)s, "
        "the rule on branch-created relationships, the branch creates the relationship and its designated "
        "person approves it. %(branch)s asks to create %(type)s from %(date)s for %(holders)s."),
        item=None, point=2),
    Code.BRANCH_REPLACE: Article("R-BR-1", gettext_lazy(
        "Under %(citation)s, "
        "the rule on branch-created relationships, the branch may replace a relationship, keeping the old "
        "version with its dates, once its designated person approves. %(branch)s asks to replace %(type)s from "
        "%(date)s, with %(holders)s."),
        item=None, point=4),
    Code.BRANCH_END: Article("R-BR-1", gettext_lazy(
        "Under %(citation)s, "
        "the rule on branch-created relationships, the branch may end a relationship, keeping it with its "
        "dates, once its designated person approves. %(branch)s asks to end %(type)s on %(date)s."),
        item=None, point=4),
    Code.CORE_LINE: Article("R-CORE-2", gettext_lazy(
        "Under %(citation)s, "
        "the rule on core service, the branch submits its core customer list and head office reviews it line "
        "by line. Line %(line)s of the list of %(branch)s names the advisor %(holders)s."),
        item=3, point=2),
    Code.CORE_REMOVE: Article("R-CORE-3", gettext_lazy(
        "Under %(citation)s, "
        "the rule on core lists, which change only in January and July, %(branch)s asked on %(date)s to "
        "remove this customer from its core list (advisor: %(advisors)s)."),
        item=3, point=3),
    Code.REASSIGN: Article("R-STAFF-1", gettext_lazy(
        "Under %(citation)s, "
        "the rule on staff who leave or move, the branch reassigns their relationships, keeping every version "
        "with its dates, once its designated person approves (and, where another branch's staff take over, that "
        "branch confirms and head office approves). %(branch)s asks to give %(line)s relationships of "
        "%(claimants)s to %(holders)s from %(date)s."),
        item=None, point=None),
}
CALENDAR_NOTE = Article("R-CAL-1", gettext_lazy(
    "The working-day calendar of %(years)s was not loaded yet, so the window was counted Monday to Friday; it is "
    "to be reviewed once the calendar is loaded."))
CLASS_WORDS = {CustomerClassKind.LOST: gettext_lazy("a lost customer"),
               CustomerClassKind.DORMANT: gettext_lazy("a dormant customer"),
               CustomerClassKind.SILENT: gettext_lazy("a silent customer")}


@dataclass(frozen=True)
class Sentence:
    text: str
    rule_id: str


@dataclass(frozen=True)
class Explanation:
    sentences: list[Sentence]
    note: str
    legacy: str        # the stored text of a case opened without a code


def staff_ids_of(case: ApprovalCase) -> set[int]:
    """Whose names the explanation may need: the claimants named in its facts, the holders, the applicant."""
    ids = {int(i) for i in (case.explanation_params or {}).get("staff_ids", [])}
    ids |= {int(s["staff_id"]) for s in case.proposed_shares}
    if case.applicant_id:
        ids.add(case.applicant_id)
    return ids


def _day(value) -> str:
    day = parse_date(value) if isinstance(value, str) else value
    return day.isoformat() if isinstance(day, dt.date) else "—"


def _moment(value) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _person(staff: Staff | None, *, branch: bool = False) -> str:
    if staff is None:
        return "—"
    where = staff.outlet.branch.name if branch and staff.outlet.branch else staff.outlet.name
    return _("%(name)s (%(where)s)") % {"name": staff.name, "where": where}


def citation(article: Article, type_code: str) -> str:
    """“《…客户关系管理办法》第九条第（一）项第2点” / “the measures, article 9, item (1), point 2”."""
    item = article.item or MEASURES_ITEM_OF_TYPE.get(type_code)
    parts = {"measures": _("the measures"), "article": _("article 9"),
             "item": ITEM_WORDS[item] if item else "", "point": _("point %(n)s") % {"n": article.point}}
    if item is None:
        return _("%(measures)s, %(article)s") % parts
    if article.point is None:
        return _("%(measures)s, %(article)s, %(item)s") % parts
    return _("%(measures)s, %(article)s, %(item)s, %(point)s") % parts


def explain(case: ApprovalCase, staff: dict[int, Staff]) -> Explanation:
    """The case's explanation in the active language; `staff` maps ids (`staff_ids_of`) to staff with their
    outlet and branch (one query by the caller)."""
    params = dict(case.explanation_params or {})
    note = str(params.get("note") or "")
    article = EXPLANATIONS.get(case.explanation_code)
    if article is None:
        return Explanation([], note, case.explanation)
    holders = [staff.get(int(s["staff_id"])) for s in case.proposed_shares]
    claimants = [staff.get(int(i)) for i in params.get("staff_ids", [])]
    branch = case.branch.name if case.branch_id and case.branch else "—"
    sep = _(", ")
    facts = {
        "staff": _person(staff.get(case.applicant_id or 0)),
        "registered": _moment(params.get("registered")),
        "opened": _day(case.opening_date),
        "deadline": _day(params.get("deadline")),
        "outlet": case.opening_outlet.name if case.opening_outlet_id and case.opening_outlet else "—",
        "branch": branch,
        "count": len(claimants),
        "claimants": sep.join(_person(s) for s in claimants) or "—",
        "holders": sep.join(_person(s) for s in holders) or "—",
        "others": sep.join(_person(s, branch=True) for s in holders
                           if s is not None and s.outlet.branch_id != case.branch_id) or "—",
        "kind": CLASS_WORDS.get(params.get("kind"), "—"),
        "since": _day(params.get("since")),
        "type": case.type.label,
        "date": _day(params.get("date") or case.opening_date),
        "line": params.get("line", "—"),
        "advisors": sep.join(_person(s) for s in claimants or holders) or "—",
    }
    facts["citation"] = citation(article, case.type_id)
    sentences = [Sentence(str(article.sentence) % facts, article.rule_id)]
    if params.get("calendar_unknown_years"):
        sentences.append(Sentence(str(CALENDAR_NOTE.sentence) % {
            "years": sep.join(map(str, params["calendar_unknown_years"]))}, CALENDAR_NOTE.rule_id))
    return Explanation(sentences, note, "")
