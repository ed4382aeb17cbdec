"""Audit stamping: every audited write names who made it and why (django-simple-history)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import models


def stamp(instance: models.Model, *, actor: AbstractBaseUser | None, reason: str) -> models.Model:
    """Attach the actor and the reason to the next history record `instance.save()` writes."""
    instance._history_user = actor  # read by simple_history in place of the request's user
    instance._change_reason = reason
    return instance
