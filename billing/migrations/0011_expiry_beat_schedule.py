"""Beat schedule for balance expiry, held by django-celery-beat so staff see and change it in the admin."""

from django.db import migrations

NAME = "billing: expire commitments and credits"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "billing.expire_balances",
            "interval": hourly,
            "description": "Expires what is left of commitments and credits past their access period (rolling "
            "over the share a commitment allows), once the last invoice that can draw on them is final.",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_tax_discount_offcycle_documents"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
