"""An index of the events that arrived more than a day after they happened.

The period close asks, for each finalized invoice that late usage may still correct, whether any event
of its period arrived after it was finalized. Through the customer's events of the whole period that
read every one of them (a million rows, about a second, for a large customer), at every close. Events
arrive within seconds or minutes (SDKs batch them); this partial index holds only those a day late or
more (backfills, replays), so ingestion pays for it only on those, and the question reads a handful of
rows (usage/selectors.py `late_events_exist`; a period is finalized three days after it ends).

Plain SQL: the predicate subtracts the two timestamps (an immutable operation, as an index predicate must
be; adding an interval to a timestamp with time zone is not), which Django's conditions cannot write.
"""

from django.db import migrations

SQL = """
CREATE INDEX usage_event_late ON usage_usageevent (customer_id, "timestamp")
    WHERE received_at - "timestamp" > interval '1 day'
"""


class Migration(migrations.Migration):
    dependencies = [("usage", "0004_events_without_like_index")]

    operations = [migrations.RunSQL(SQL, "DROP INDEX IF EXISTS usage_event_late")]
