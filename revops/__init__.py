"""revops: the Django project package and the shared kernel (money, periods, clock, API plumbing)."""

from revops.celery import app as celery_app

__all__ = ["celery_app"]
