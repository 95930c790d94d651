"""Secondary development and special new accounts (§7): pre-assignment, the assignee's reservation,
the nightly secondary matching, and the special-new application.

- **R-SEC-4** The branch pre-assigns lost / dormant / silent customers of the branch to its front staff;
  a partial unique index keeps at most one active pre-assignment per customer, whichever branch tries.
  The assignee reserves (`SECONDARY_DEV`, through `reservation_register`, validity R-RES-2); the
  nightly stage `secondary_match_pending` creates `SECONDARY_DEV` for him when the customer reactivates by
  the rule of his class:
  - lost (R-SEC-1): a reopening of a securities account or a re-designation dated **more than** three
    calendar months after the loss (loss 2026-01-15 → from 2026-04-16; month ends clamp as in
    R-RES-2), or an own-request cross-branch transfer (`transfer_in_branch`) at any time;
  - dormant (R-SEC-2): an activation or a reopening;
  - silent (R-SEC-3): from the day of the reservation, assets transferred in adding up to 1,000 yuan
    or more **and** at least one trade; the relationship starts on the day both hold.
  The reactivation must come after the reservation's registration and inside its validity.
- **R-SEC-5** Without a pre-assignment, staff file a special-new application: a reservation of the
  type their kind holds (`NEW_DEV` front staff, `BROKER_DEV` brokers) with an approval case on the
  special-new chain (branch designated person → branch head or delegate → HQ).

The matching follows `reservations.matching`: units of active pre-assignments, one transaction per
unit, one statement reading every candidate of the unit, outcomes decided in memory, bulk writes.
A re-run finds the developed assignments gone and matched reservations no longer open (idempotent).
"""
