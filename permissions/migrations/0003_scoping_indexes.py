"""Indexes the scoped lists need (R-PERM-4): newest-first pages of a branch's relationships and reservations.

The lists order by (date DESC, id DESC) and filter by the scope's foreign keys; with these indexes
PostgreSQL walks the rows in page order and stops at the page size instead of sorting the whole
scope (about 83,000 rows per branch at 2,500,000 relationships). They live on other apps' tables, so
they are created with SQL here and are not part of those apps' model state.
"""
from django.db import migrations

INDEXES = """
CREATE INDEX IF NOT EXISTS relationship_recent_first
    ON relationships_relationship (effective_from DESC, id DESC);
CREATE INDEX IF NOT EXISTS reservation_recent_first
    ON reservations_reservation (registered_at DESC, id DESC);
"""
DROP = """
DROP INDEX IF EXISTS relationship_recent_first;
DROP INDEX IF EXISTS reservation_recent_first;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("permissions", "0002_register"),
        ("relationships", "0002_seed_types_and_guards"),
        ("reservations", "0001_initial"),
    ]
    operations = [migrations.RunSQL(INDEXES, DROP)]
