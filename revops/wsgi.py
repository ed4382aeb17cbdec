"""WSGI entry point: `gunicorn revops.wsgi` in production."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the apps, settings) lives as long as the process: freeze it out of
# the cyclic garbage collector's scans, and collect young objects less often. An ingest batch allocates
# tens of thousands of short-lived dicts, and with the default thresholds the collector's full passes
# over all of Django's objects took about an eighth of a batch's time.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
