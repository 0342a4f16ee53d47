"""How a sent prompt reached its patient: by push, or in the inbox only.

Prompts sent before this field existed get it from their delivery log: "push" where a
device took the push, "inbox" otherwise.
"""

from django.db import migrations, models
from django.db.models import Exists, OuterRef


def fill_from_the_delivery_log(apps, schema_editor):
    Prompt = apps.get_model("integration", "Prompt")
    DeliveryAttempt = apps.get_model("integration", "DeliveryAttempt")
    was_sent = Prompt.objects.filter(sent_at__isnull=False, delivered_via="")
    pushed = DeliveryAttempt.objects.filter(prompt=OuterRef("pk"), outcome="delivered")
    was_sent.filter(Exists(pushed)).update(delivered_via="push")
    was_sent.update(delivered_via="inbox")


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0008_device_sign_in"),
    ]

    operations = [
        migrations.AddField(
            model_name="prompt",
            name="delivered_via",
            field=models.CharField(
                blank=True,
                db_default="",
                choices=[
                    ("push", "Push notification"),
                    ("inbox", "Inbox only (no device took a push)"),
                ],
                max_length=8,
            ),
        ),
        migrations.RunPython(fill_from_the_delivery_log, migrations.RunPython.noop),
    ]
