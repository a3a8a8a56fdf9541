"""Incident.last_received_at: correlation windows run on arrival time, not the source's timestamps."""
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def from_last_alert(apps, schema_editor):
    # Existing incidents: their last alert's own time is the best arrival estimate there is.
    apps.get_model("incidents", "Incident").objects.update(last_received_at=F("last_alert_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0006_delivery_lease'),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='last_received_at',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(from_last_alert, migrations.RunPython.noop),
    ]
