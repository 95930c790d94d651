"""More indexes the scoped lists need (R-PERM-4), measured with benchmarks/pages.py at 1,000,000 customers,
2,500,000 relationships and 200,000 cases.

- A branch's customers: the scope reads every relationship at the branch's outlets for its customer ids;
  (outlet_id, customer_id) answers that from the index alone (17 ms for 83,000 rows instead of a 400 ms
  scan of the table).
- All cases, newest first: without an index on (created_at DESC, id DESC) every page sorted the 200,000
  cases on disk.
"""
from django.db import migrations

INDEXES = """
CREATE INDEX IF NOT EXISTS relationship_outlet_customer
    ON relationships_relationship (outlet_id, customer_id);
CREATE INDEX IF NOT EXISTS approval_case_recent_first
    ON approvals_approvalcase (created_at DESC, id DESC);
"""
DROP = """
DROP INDEX IF EXISTS relationship_outlet_customer;
DROP INDEX IF EXISTS approval_case_recent_first;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("permissions", "0003_scoping_indexes"),
        ("relationships", "0004_customer_newest_first"),
        ("approvals", "0004_case_outcome_filed_by"),
    ]
    operations = [migrations.RunSQL(INDEXES, DROP)]
