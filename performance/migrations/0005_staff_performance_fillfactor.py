"""The nightly performance stage updates each month row in place every night (performance.nightly): room on the
page lets PostgreSQL keep the new version beside the old one (a HOT update, no new index entries), so the month
rows and their indexes do not bloat between vacuums."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('performance', '0004_computed_days'),
    ]

    operations = [
        migrations.RunSQL("ALTER TABLE performance_staffperformance SET (fillfactor = 80)",
                          "ALTER TABLE performance_staffperformance RESET (fillfactor)"),
    ]
