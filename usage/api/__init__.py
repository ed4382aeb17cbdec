"""Usage API: ingestion and current usage (metering.py), moving contracts between card versions
(contract_migrations.py: it lives here because its preview measures each contract's usage)."""
