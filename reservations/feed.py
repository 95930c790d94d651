"""The `reservations` feed (§12, bulk registration): each line through the very service the form uses, so
bulk registration obeys the same rules (R-RES-1…6, R-MATCH-4 at registration)."""
from __future__ import annotations

from django.utils.translation import gettext_noop

from common.feedlines import FeedResult, FieldRules, LineError, Row, for_each_line, max_length, parse_time
from relationships.models import Staff
from reservations.models import Reservation
from reservations.services import ReservationInput, reservation_register

COLUMNS = ["staff_no", "relationship_type", "customer_name", "id_number", "phone", "registered_at", "participants"]
RULES = FieldRules(lengths={"staff_no": max_length(Staff, "staff_no"),
                            "customer_name": max_length(Reservation, "customer_name")},
                   codes=frozenset({"staff_no", "relationship_type", "registered_at"}))


def load_reservations(actor, rows, result: FeedResult) -> None:
    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet")}

    def register(line: int, row: Row) -> None:
        staff = staff_by_no.get(row.get("staff_no", ""))
        if staff is None:
            raise LineError(gettext_noop("staff_no “%(no)s” is not a known staff member."), {"no": row.get("staff_no")})
        registered_at = parse_time(row.get("registered_at", ""), "registered_at")
        participants = None
        if row.get("participants"):
            participants = []
            for part in row["participants"].split(";"):
                if not part.strip():
                    continue
                no, sep, ratio = part.partition(":")
                member = staff_by_no.get(no.strip())
                if member is None or not sep:
                    raise LineError(gettext_noop("participant “%(p)s” must be staff_no:ratio of a known staff member."),
                                    {"p": part})
                participants.append((member, ratio.strip()))
        reservation_register(actor=actor, data=ReservationInput(
            staff=staff, type_code=row.get("relationship_type", ""), customer_name=row.get("customer_name", ""),
            id_number=row.get("id_number", ""), phone=row.get("phone", ""), participants=participants,
            registered_at=registered_at, source="feed"))
        result.rows_loaded += 1

    for_each_line(rows, result, register)
