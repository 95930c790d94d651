"""The append-only guards of common/guards.py, declared in the models' Meta (django-pgtrigger): the row-level
UPDATE/DELETE guard, now with a statement-level TRUNCATE guard beside it. The hand-written row triggers of 0002 are
dropped only after their replacements exist, in this one transaction: no moment leaves a table unguarded."""

import common.guards
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0005_case_request_and_line'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='caseaction',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='086c15e1b144c4618ba3c052bf48b8b280450126', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_b6885', table='approvals_caseaction', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='caseaction',
            trigger=pgtrigger.compiler.Trigger(name='no_truncate', sql=common.guards.GuardSql(func="RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';", hash='786535b4871652470adb93613078785900c04f0b', level='STATEMENT', operation='TRUNCATE', pgid='pgtrigger_no_truncate_a81ba', table='approvals_caseaction', when='BEFORE')),
        ),
        # The row triggers of 0002 (function crm_refuse_change, kept for reversing), replaced by pgtrigger's above.
        migrations.RunSQL(
            """DROP TRIGGER caseaction_append_only ON approvals_caseaction;""",
            """CREATE TRIGGER caseaction_append_only BEFORE UPDATE OR DELETE ON approvals_caseaction FOR EACH ROW EXECUTE FUNCTION crm_refuse_change();""",
        ),
    ]
