"""Contracts API: customers, contracts, their amendments, subscriptions, balances and previews.

Thin views (parse input, one service or selector call, shape output), one module per resource:
`customers` (and their ingest aliases), `contracts` (create, list, read as of a day, activate, end),
`amendments`, `subscriptions` (changes and plan changes), `balances` (grants, ledger, adjustments,
voids) and `previews`. `terms` and `common` hold the input and output shapes several of them share.
Money and quantities are decimal strings in JSON (the catalog API's fields); a float is refused.
"""

from contracts.api.customers import (
    CustomerAliasDeleteApi,
    CustomerAliasListCreateApi,
    CustomerDetailApi,
    CustomerListCreateApi,
)

__all__ = ["CustomerAliasDeleteApi", "CustomerAliasListCreateApi", "CustomerDetailApi", "CustomerListCreateApi"]
