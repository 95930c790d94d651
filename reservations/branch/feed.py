"""The `relationships` feed (§12): `id_number,relationship_type,participants,effective_from` — branch-created
lines enter the 1-level chain like the form; `CORE_SERVICE` lines form one core list per advisor's branch."""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.feedlines import (
    REFUSALS,
    FeedResult,
    FieldRules,
    LineError,
    Row,
    check_row,
    for_each_line,
    parse_day,
    refusal_text,
)
from common.feedtext import FeedFileError, read_feed
from common.wording import Message, from_validation_error, recognise
from relationships.models import Organisation, RelationshipType, Staff
from relationships.types import core_type
from reservations.branch.core_lists import CoreLineInput, core_list_submit
from reservations.branch.requests import BranchRequestInput, branch_request_create


def parse_participants(text: str, staff_by_no: dict[str, Staff]) -> list[tuple[Staff, str]]:
    """§12 participants: `;`-separated `staff_no:ratio` (a bare staff number means ratio 1)."""
    parts = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        no, sep, ratio = part.partition(":")
        staff = staff_by_no.get(no.strip())
        if staff is None:
            raise ValidationError(_("participant “%(p)s” must be staff_no:ratio of a known staff member."),
                                  params={"p": part})
        parts.append((staff, ratio.strip() if sep else "1"))
    if not parts:
        raise ValidationError(_("participants are required."))
    return parts


def parse_core_csv(content: bytes) -> list[CoreLineInput]:
    """A core list file in the §12 `relationships` format (relationship_type `CORE_SERVICE`); errors per line.
    Read as every feed is (`common.feedtext`: UTF-8 or GB18030, or an .xlsx workbook; quoting judged per line)
    and checked as every field is (`common.feedlines.check_row`)."""
    try:
        table = read_feed(content, filename="core.csv")
    except FeedFileError as exc:
        raise ValidationError(str(exc)) from None
    missing = [c for c in ("id_number", "participants") if c not in table.header]
    if missing:
        raise ValidationError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    position: dict[str, int] = {}
    for i, name in enumerate(table.header):
        position.setdefault(name, i)
    lines = [CoreLineInput(line_no=n, id_number="", staff_no="", error=reason) for n, reason in table.errors]
    core = core_type().code
    for n, fields in table.lines:
        row = {c: (fields[i].strip() if i < len(fields) else "") for c, i in position.items() if c}
        reason = check_row({c: v for c, v in row.items() if c in RELATIONSHIP_COLUMNS}, RULES)
        lines.append(CoreLineInput(line_no=n, id_number="", staff_no="", error=reason) if reason
                     else core_line_from_row(n, row, core=core))
    return sorted(lines, key=lambda ln: ln.line_no)


def core_line_from_row(line_no: int, row: dict, *, core: str) -> CoreLineInput:
    ln = CoreLineInput(line_no=line_no, id_number=row.get("id_number", ""), staff_no="")
    rtype = row.get("relationship_type", core) or core
    if rtype != core:
        ln.error = Message(gettext_noop("relationship_type must be %(code)s on a core list."), {"code": core})
        return ln
    parts = [p.strip() for p in row.get("participants", "").split(";") if p.strip()]
    if len(parts) != 1:
        ln.error = Message(gettext_noop("A core customer has exactly one advisor (participants: one staff_no, "
                                        "ratio 1)."))
        return ln
    no, sep, ratio = parts[0].partition(":")
    ln.staff_no = no.strip()
    if sep and ratio.strip() and _decimal_or_none(ratio) != 1:
        ln.error = Message(gettext_noop("A core customer's advisor holds ratio 1."))
    if row.get("effective_from"):
        try:
            ln.effective_from = parse_day(row["effective_from"], "effective_from")
        except LineError as exc:
            ln.error, ln.effective_from = exc.message, None
    return ln


def _decimal_or_none(text: str):
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return None


RELATIONSHIP_COLUMNS = ["id_number", "relationship_type", "participants", "effective_from"]
RULES = FieldRules(codes=frozenset({"id_number", "relationship_type", "effective_from"}))


def load_relationships(actor, rows, result: FeedResult) -> None:
    """`manage.py load_feed relationships FILE`: branch-created lines enter the 1-level chain like the form;
    `CORE_SERVICE` lines form one core list per advisor's branch (R-CORE-1/3 checked per line)."""
    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet__branch")}
    kinds = dict(RelationshipType.objects.values_list("code", "creation"))
    core_by_branch: dict[int, list[CoreLineInput]] = {}
    branches: dict[int, Organisation] = {}

    def request(line: int, row: Row) -> None:
        code = row.get("relationship_type", "")
        if code not in kinds:
            raise LineError(gettext_noop("relationship_type “%(code)s” is not known."), {"code": code})
        if kinds[code] == "core_list":
            ln = core_line_from_row(line, row, core=code)
            advisor = staff_by_no.get(ln.staff_no)
            if ln.error:
                raise LineError(ln.error)
            if advisor is None:
                raise LineError(gettext_noop("There is no staff member with number %(no)s."), {"no": ln.staff_no})
            branch = advisor.outlet.branch
            if branch is None:
                raise LineError(gettext_noop("%(staff)s's outlet belongs to no branch."), {"staff": str(advisor)})
            branches[branch.pk] = branch
            core_by_branch.setdefault(branch.pk, []).append(ln)
            return
        if kinds[code] != "branch":
            raise LineError(gettext_noop("%(code)s relationships are not created from this file."), {"code": code})
        try:
            participants = parse_participants(row.get("participants", ""), staff_by_no)
        except ValidationError as exc:
            raise LineError(from_validation_error(exc, by_field=False)) from None
        day = parse_day(row.get("effective_from", ""), "effective_from")
        branch = participants[0][0].outlet.branch
        if branch is None:
            raise LineError(gettext_noop("%(staff)s's outlet belongs to no branch."),
                            {"staff": str(participants[0][0])})
        branch_request_create(actor=actor, branch=branch, data=BranchRequestInput(
            id_number=row.get("id_number", ""), type_code=code, participants=participants, effective_from=day,
            source="feed"))
        result.rows_loaded += 1

    for_each_line(rows, result, request)
    for branch_id, lines in core_by_branch.items():
        try:
            with transaction.atomic():
                outcome = core_list_submit(actor=actor, branch=branches[branch_id], lines=lines, source="feed",
                                           filename=result.filename)
        except REFUSALS as exc:  # R-CORE-3: the whole list is refused outside January and July
            result.errors.extend((ln.line_no, refusal_text(exc)) for ln in lines)
            continue
        result.rows_loaded += outcome.accepted
        result.errors.extend((line, recognise(reason)) for line, reason in outcome.refused)
    result.errors.sort()
