"""Measures get a sealed column for their item answers (step 1 of 2, see 0004).

The clear `answers` column becomes nullable, so that 0004 can empty it before dropping it
and, run backwards, put the answers back into it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0002_measures"),
    ]

    operations = [
        migrations.AddField(
            model_name="measure",
            name="items_sealed",
            field=models.TextField(blank=True, db_default="", default=""),
        ),
        migrations.AlterField(
            model_name="measure",
            name="answers",
            field=models.JSONField(null=True),
        ),
    ]
