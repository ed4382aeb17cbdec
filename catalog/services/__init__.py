"""Catalog writes with business rules. Each service is keyword-only, atomic, takes `actor=` and records why."""
