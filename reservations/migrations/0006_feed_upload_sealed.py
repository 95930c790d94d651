"""Uploaded feed files are stored sealed (relationships.pii.seal): seal any still waiting in clear, blank the rest."""

from django.db import migrations

from relationships.pii import seal


def seal_waiting_uploads(apps, schema_editor):
    FeedUpload = apps.get_model("reservations", "FeedUpload")
    FeedUpload.objects.filter(status__in=["done", "failed"]).exclude(content=b"").update(content=b"")
    for upload in FeedUpload.objects.exclude(content=b"").only("id", "content").iterator(chunk_size=1):
        FeedUpload.objects.filter(pk=upload.pk).update(content=seal(bytes(upload.content)))


class Migration(migrations.Migration):

    dependencies = [
        ('reservations', '0005_status_checks'),
    ]

    operations = [
        migrations.RunPython(seal_waiting_uploads, migrations.RunPython.noop, elidable=True),
    ]
