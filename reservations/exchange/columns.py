"""What each column of each §12 feed means, and a sample line: the upload page's format help and sample files.

The column lists themselves are the loaders' (`reservations.exchange.registry.LOADERS`); this module only
says, for each of those columns, what goes in it (one line, in the reader's language) and gives two sample
lines. `tests/integration/reservations/test_feed_help.py` keeps the two in step: a column without a meaning or a
sample fails there.

A meaning names literal file values — the codes a column takes, other columns, a date's format — that are the
same in every language: they are placeholders of the translated sentence, filled in as <code> (`Coded`), so the
translation never carries them and the page marks them as the file's, not as words (issue 19).
"""
from __future__ import annotations

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _


class Coded:
    """A translatable sentence whose `%(name)s` placeholders are literal file values, shown as <code>.

    `codes` are values named by themselves (`"open"` fills `%(open)s`); `named` are values whose placeholder has
    another name (`date="YYYY-MM-DD"`). It is shown as HTML — the sentence translated now and escaped, each value
    in <code> — which is what `str` gives too (a template calls `str` on what it shows); `plain` is the text."""

    def __init__(self, text, *codes: str, **named: str) -> None:
        self.text, self.values = text, {**{c: c for c in codes}, **named}

    def __html__(self) -> SafeString:
        code = {name: format_html("<code>{}</code>", value) for name, value in self.values.items()}
        return mark_safe(conditional_escape(str(self.text)) % code)  # the sentence escaped, the codes marked up

    __str__ = __html__

    def plain(self) -> str:
        return str(self.text) % self.values


_DAY = "YYYY-MM-DD"
_ID = _("ID card number (18 characters, GB 11643; the last may be X).")
_STAFF_NO = _("Staff number, as in the staff feed.")
_PARTICIPANTS = Coded(_("Holders and their split ratios, %(pair)s separated by %(sep)s; empty: the staff member "
                        "alone, ratio 1. Ratios have up to 4 decimals and add up to at most 1."),
                      pair="staff_no:ratio", sep=";")
_TIME = Coded(_("Time with its offset from UTC, in %(iso)s form: %(example)s."), iso="ISO 8601",
              example="2026-03-02T09:31:00+08:00")
_DATE = Coded(_("Date, %(date)s."), date=_DAY)
_AMOUNT = _("Amount in yuan, a plain decimal with at most 2 decimals; empty means 0.")

# What the upload page says of every feed file.
FILE_FORMAT = Coded(_("A CSV file with a header row (%(utf8)s, or %(gb)s/%(gbk)s as Excel on Chinese Windows saves "
                      "it) or an Excel workbook (.xlsx, its first sheet). The columns can come in any order; columns "
                      "not listed are ignored. Times carry their offset from UTC, dates are %(date)s, amounts plain "
                      "decimals."), utf8="UTF-8", gb="GB18030", gbk="GBK", date=_DAY)

MEANINGS: dict[str, dict[str, object]] = {
    "org": {
        "code": _("Organisation code, unique (HQ, branch or outlet)."),
        "name": _("Name shown on the pages."),
        "kind": Coded(_("%(hq)s, %(branch)s or %(outlet)s."), "hq", "branch", "outlet"),
        "parent_code": _("Code of the organisation above: a branch's is HQ, an outlet's is its branch; empty for HQ."),
        "region": _("Region of a branch or outlet (for rankings by region)."),
    },
    "staff": {
        "staff_no": _("Staff number, unique; staff sign in with it."),
        "name": _("Staff member's name."),
        "outlet_code": _("Code of the outlet he or she works at."),
        "kind": Coded(_("%(advisor)s, %(account_manager)s, %(other_front)s or %(broker)s."),
                      "advisor", "account_manager", "other_front", "broker"),
        "parent_staff_no": _("A broker's parent broker (staff number); empty otherwise."),
        "qualifications": Coded(_("Qualifications held, separated by %(sep)s: %(securities)s, %(futures)s, "
                                  "%(consulting)s, %(broker)s."), "securities", "futures", "consulting", "broker",
                                sep=";"),
        "attach_open": Coded(_("%(true)s when the staff member may hold relationships (attach permission open), "
                               "else %(false)s."), "true", "false"),
        "effective_from": Coded(_("First day at the outlet of %(outlet_code)s, %(date)s, when the staff member moves; "
                                  "empty: the day the file is loaded."), "outlet_code", date=_DAY),
        "leaving_date": Coded(_("First day away, %(date)s, when the staff member leaves (no new relationships from "
                                "that day); empty: not leaving."), date=_DAY),
    },
    "reassignments": {
        "id_number": _("ID card number of the customer (18 characters, GB 11643; the last may be X)."),
        "relationship_type": _("Relationship type code of the customer's active relationship to reassign."),
        "from_staff_no": _("Staff number of the current holder whose relationship is reassigned."),
        "participants": Coded(_("The new holders and their split ratios, %(pair)s separated by %(sep)s; they "
                                "replace every current holder. Ratios have up to 4 decimals and add up to at most 1."),
                              pair="staff_no:ratio", sep=";"),
        "effective_from": Coded(_("The new holders' first day, %(date)s; the current holders keep the days before "
                                  "it."), date=_DAY),
    },
    "reservations": {
        "staff_no": _STAFF_NO,
        "relationship_type": Coded(_("Relationship type code: %(a)s, %(b)s, %(c)s, %(d)s, %(e)s …"), a="NEW_DEV",
                                   b="IB_SERVICE", c="CREDIT_DEV", d="REPURCHASE_DEV", e="BROKER_DEV"),
        "customer_name": _("Customer name as on the ID card."),
        "id_number": _ID,
        "phone": _("Mainland mobile number, 11 digits."),
        "registered_at": _TIME,
        "participants": _PARTICIPANTS,
    },
    "account_events": {
        "event_id": _("The core system's event id, unique: an id already loaded is skipped."),
        "event_time": _TIME,
        "kind": Coded(_("%(open)s, %(close)s, %(designate)s, %(cancel_designation)s, %(dormant)s, %(activate)s, "
                        "%(transfer_in_branch)s or %(repurchase_start)s."), "open", "close", "designate",
                      "cancel_designation", "dormant", "activate", "transfer_in_branch", "repurchase_start"),
        "id_number": _ID,
        "customer_name": _("Account holder's name."),
        "account_no": _("Account number."),
        "account_type": Coded(_("%(securities)s, %(credit)s, %(futures)s or %(repurchase)s."), "securities",
                              "credit", "futures", "repurchase"),
        "outlet_code": _("Code of the outlet that holds the account."),
    },
    "metrics": {
        "date": Coded(_("Business day of the figures, %(date)s."), date=_DAY),
        "id_number": _ID,
        "assets": _("End-of-day assets in yuan (required, never negative)."),
        "net_commission": _("Commission less fees and rebates, in yuan; may be negative; empty means 0."),
        "turnover": _AMOUNT,
        "trade_count": _("Number of trades, a whole number; empty means 0."),
        "transfer_in": _AMOUNT,
    },
    "assignments": {
        "id_number": _("ID card number of a lost, dormant or silent customer of the branch."),
        "staff_no": _("Staff number of the staff member the customer is pre-assigned to."),
        "assigned_at": _TIME,
    },
    "relationships": {
        "id_number": _ID,
        "relationship_type": Coded(_("%(a)s, %(b)s, %(c)s or %(d)s (a core list)."), a="EXISTING_DEV",
                                   b="MAINTENANCE", c="KEY_SERVICE", d="CORE_SERVICE"),
        "participants": _PARTICIPANTS,
        "effective_from": Coded(_("First day the relationship counts, %(date)s; empty: from the approval."),
                                date=_DAY),
    },
    "calendar": {
        "date": _DATE,
        "kind": Coded(_("%(workday)s or %(holiday)s: only the days that differ from Monday to Friday working."),
                      "workday", "holiday"),
        "note": _("Optional remark (the holiday's name)."),
    },
}

SAMPLES: dict[str, list[list[str]]] = {
    "org": [["HQ", "总部", "hq", "", ""], ["SH", "上海分公司", "branch", "HQ", "华东区域"],
            ["SH01", "上海浦东营业部", "outlet", "SH", "华东区域"]],
    "staff": [["E10001", "谢琳", "SH01", "advisor", "", "securities;consulting", "true", "", ""],
              ["E10002", "赵敏", "SH01", "account_manager", "", "securities", "true", "", ""],
              ["J20001", "王强", "SH01", "broker", "", "broker;securities", "true", "", ""]],
    "reassignments": [["110105198506150014", "NEW_DEV", "E10001", "E10002:0.6;E10003:0.4", "2026-11-10"],
                      ["310115199003021231", "MAINTENANCE", "E10001", "E10002:1", "2026-11-10"]],
    "reservations": [["E10001", "NEW_DEV", "张三", "110105198506150014", "13812345678",
                      "2026-03-02T09:31:00+08:00", "E10001:0.6;E10002:0.4"],
                     ["E10002", "NEW_DEV", "李四", "310115199003021231", "13912345678",
                      "2026-03-02T10:05:00+08:00", ""]],
    "account_events": [["EV20260303000001", "2026-03-03T09:40:00+08:00", "open", "110105198506150014", "张三",
                        "100000000001", "securities", "SH01"],
                       ["EV20260303000002", "2026-03-03T10:12:00+08:00", "open", "44030419780911456X", "王五",
                        "800000000001", "futures", "SH01"]],
    "metrics": [["2026-03-03", "110105198506150014", "250000.00", "37.50", "150000.00", "3", "0"],
                ["2026-03-03", "44030419780911456X", "80000.00", "-1.20", "", "0", "50000.00"]],
    "assignments": [["110105198506150014", "E10001", "2026-03-02T09:00:00+08:00"]],
    "relationships": [["110105198506150014", "MAINTENANCE", "E10001:1", "2026-04-01"],
                      ["310115199003021231", "CORE_SERVICE", "E10001:1", ""]],
    "calendar": [["2027-01-01", "holiday", "元旦"], ["2027-02-07", "workday", "春节调休"]],
}
