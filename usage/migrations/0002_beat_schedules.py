"""Beat schedules for usage upkeep, held by django-celery-beat so staff see and change them in the admin."""

from django.db import migrations

SCHEDULES = [
    # name, task, every (seconds), description
    ("usage: compact rollup deltas", "usage.compact_rollups", 10,
     "Folds the rollup deltas that ingestion appends into the hourly rollups."),
    ("usage: build missing rollups", "usage.build_missing_rollups", 300,
     "Builds rollups for metrics created or changed since (ingestion also asks for this)."),
]


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds, description in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "description": description}
        )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
