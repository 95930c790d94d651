"""The append-only guards of common/guards.py, declared in the models' Meta (django-pgtrigger): the row-level
UPDATE/DELETE guard, now with a statement-level TRUNCATE guard beside it. The hand-written row triggers of 0002 are
dropped only after their replacements exist, in this one transaction: no moment leaves a table unguarded."""

import common.guards
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('relationships', '0008_event_conflict'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='auditentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='230d3092d9df745570559a0aa312b1301410c313', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_3fc33', table='relationships_auditentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditentry',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='56b24dfa7a740fc4c1de041faa46b376f1d60a58', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_fbbfc', table='relationships_auditentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='piiaccess',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='149fd0d1a78de3d6fa6e8f1e2361309e021f0a29', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_0048a', table='relationships_piiaccess', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='piiaccess',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='4823b55ee7b55e35c3eeff44f35d59ae8fdc9f5b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_e2f3c', table='relationships_piiaccess', when='BEFORE')),
        ),
        # The row triggers of 0002 (function crm_refuse_change, kept for reversing), replaced by pgtrigger's above.
        migrations.RunSQL(
            """DROP TRIGGER auditentry_append_only ON relationships_auditentry;
DROP TRIGGER piiaccess_append_only ON relationships_piiaccess;""",
            """CREATE TRIGGER auditentry_append_only BEFORE UPDATE OR DELETE ON relationships_auditentry FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();
CREATE TRIGGER piiaccess_append_only BEFORE UPDATE OR DELETE ON relationships_piiaccess FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();""",
        ),
    ]
