"""Audit stamping: every audited write names who made it and why (django-simple-history).

A person's reason for a change comes from the edge (the admin's "reason for this change", the
API's `reason` or `X-Change-Reason`), while services stamp with their own description of the
step. `change_reason()` carries the person's words down to every record the request writes,
so the history says why in their terms without threading a reason through every service.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

# simple-history stores the reason in a 100-character column.
REASON_MAX_LENGTH = 100

_request_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("revops_change_reason", default=None)


def stamp(instance: models.Model, *, actor: AbstractBaseUser | None, reason: str) -> models.Model:
    """Attach the actor and the reason to the next history record `instance.save()` writes."""
    instance._history_user = actor  # read by simple_history in place of the request's user
    person = _request_reason.get()
    # The person's words win, unless the service's reason already carries them ("voided: wrong seats").
    chosen = person if person and person not in reason else reason
    instance._change_reason = chosen[:REASON_MAX_LENGTH]
    return instance


def current_reason() -> str | None:
    return _request_reason.get()


def use_reason(reason: str | None) -> contextvars.Token:
    """From now on every stamp records `reason` (the person's own words) in place of the service's."""
    return _request_reason.set(reason.strip() if reason and reason.strip() else None)


def forget_reason(token: contextvars.Token) -> None:
    _request_reason.reset(token)


@contextlib.contextmanager
def change_reason(reason: str | None) -> Iterator[None]:
    token = use_reason(reason)
    try:
        yield
    finally:
        forget_reason(token)
