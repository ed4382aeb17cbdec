"""The billing API: invoices (list, read), computing a contract's draft for a period, and the invoice's
state changes (recompute, finalize, void, mark paid). See `billing.api.invoices`."""
