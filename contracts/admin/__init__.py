"""The contracts admin: customers, contracts (with their action, as-of and preview pages), balances and the ledger.

Thin like the catalog's (whose helpers in catalog/admin/base.py it reuses): every write is one service
call with the person as actor and a reason.
"""

from contracts.admin import balances, contracts, customers

__all__ = ["balances", "contracts", "customers"]
