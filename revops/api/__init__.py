"""API plumbing shared by every app: key auth, scopes, the error shape, pagination, idempotency."""
