# Issue 18: the inbox probes a holder's waiting steps' pending cases by id, index-only.
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0010_merge_explanation_codes'),
        ('relationships', '0010_type_rows_carry_the_rules'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='approvalcase',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['id'],
                               include=('current_step', 'filed_by', 'applicant', 'created_at'),
                               name='case_pending_by_id'),
        ),
    ]
