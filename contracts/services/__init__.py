"""Contract-app writes with business rules, one module per area. Customer services are re-exported here."""

from contracts.services.customers import (
    customer_alias_add,
    customer_alias_remove,
    customer_clean_fields,
    customer_create,
    customer_update,
)

__all__ = [
    "customer_alias_add",
    "customer_alias_remove",
    "customer_clean_fields",
    "customer_create",
    "customer_update",
]
