"""R-STAFF-1's feed columns, what each means and sample lines — for the upload page's format help and sample files
(`reservations.exchange.columns` on main, which this merges into: `MEANINGS["staff"].update(STAFF_MEANINGS)`,
`MEANINGS["reassignments"] = MEANINGS_REASSIGNMENTS`, `SAMPLES["reassignments"] = SAMPLES_REASSIGNMENTS`, and the
staff samples gain `STAFF_SAMPLE_TAIL` at the end of each line)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

STAFF_MEANINGS = {
    "effective_from": _("First day at the outlet of outlet_code, YYYY-MM-DD, when the staff member moves; empty: the "
                        "day the file is loaded."),
    "leaving_date": _("First day away, YYYY-MM-DD, when the staff member leaves (no new relationships from that day); "
                      "empty: not leaving."),
}
STAFF_SAMPLE_TAIL = ["", ""]  # (effective_from, leaving_date) of a staff line that neither moves nor leaves

MEANINGS_REASSIGNMENTS = {
    "id_number": _("ID card number of the customer (18 characters, GB 11643; the last may be X)."),
    "relationship_type": _("Relationship type code of the customer's active relationship to reassign."),
    "from_staff_no": _("Staff number of the current holder whose relationship is reassigned."),
    "participants": _("The new holders and their split ratios, “staff_no:ratio” separated by “;”; they replace every "
                      "current holder. Ratios have up to 4 decimals and add up to at most 1."),
    "effective_from": _("The new holders' first day, YYYY-MM-DD; the current holders keep the days before it."),
}
SAMPLES_REASSIGNMENTS = [["110105198506150014", "NEW_DEV", "E10001", "E10002:0.6;E10003:0.4", "2026-11-10"],
                         ["310115199003021231", "MAINTENANCE", "E10001", "E10002:1", "2026-11-10"]]
