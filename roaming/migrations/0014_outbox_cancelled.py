from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("roaming", "0013_cistring_unique_ignoring_case"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="cancelled_at",
            field=models.DateTimeField(
                blank=True,
                help_text="The partner's credentials ended before it was sent: never sent (given up at the same moment).",
                null=True,
            ),
        ),
    ]
