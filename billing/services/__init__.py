"""Billing writes with business rules: invoices (compute, finalize, void, pay)."""
