"""The append-only guards of common/guards.py, declared in the models' Meta (django-pgtrigger): the row-level
UPDATE/DELETE guard, now with a statement-level TRUNCATE guard beside it. The hand-written row triggers of 0002 are
dropped only after their replacements exist, in this one transaction: no moment leaves a table unguarded."""

import common.guards
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('permissions', '0006_status_checks'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='permissionregisterentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='26cad3eb456bd0dbff9c97b8ea04ff6cfe6b225d', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_b7d2a', table='permissions_permissionregisterentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='permissionregisterentry',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='7edef87047002027716af2fa5dbb7d2d5377d16b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_e4371', table='permissions_permissionregisterentry', when='BEFORE')),
        ),
        # The row triggers of 0002 (function crm_refuse_change, kept for reversing), replaced by pgtrigger's above.
        migrations.RunSQL(
            """DROP TRIGGER permregister_append_only ON permissions_permissionregisterentry;""",
            """CREATE TRIGGER permregister_append_only BEFORE UPDATE OR DELETE ON permissions_permissionregisterentry FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();""",
        ),
    ]
