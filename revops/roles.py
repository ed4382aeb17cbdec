"""Roles are Django groups; this module is the one place that says what each may do.

`roles_setup()` (run by `manage.py setup_roles`, which bootstrap calls) makes each group hold
exactly the permissions listed here, so a change to this file is a change to who may do what.
A permission name that does not exist is an error, never skipped: a typo here must not
silently take a right away from (or give one to) a whole team.

Which objects a person may touch within their role (the rate cards of their product line, the
customers they manage) is decided per object by django-guardian; see revops/access.py.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

FINANCE = "Finance"
REVOPS = "RevOps"
SALES = "Sales"
PRODUCT = "Product"
APPROVER = "Approver"
AUDITOR = "Auditor"
SUPPORT = "Support"

# Members of these roles see only their own customers unless they also hold contracts.view_all_customers.
CUSTOMER_SCOPED_ROLES = [SALES, SUPPORT]

# Deciding approval requests (maker-checker: the services still refuse anyone's own change).
APPROVAL_PERMISSIONS: list[str] = [
    "revops.decide_approvalrequest",
    "revops.view_approvaldecision",
    "revops.view_approvalpolicy",
]
# Whoever proposes a change sees the requests (their own, and those waiting for approvers).
SEE_REQUESTS = ["revops.view_approvalrequest"]

CATALOG = ["billablemetric", "product", "productline", "ratecard", "ratecardversion", "price", "pricetier"]
CONTRACT_TERMS = [
    "customer",
    "customeralias",
    "contract",
    "contractversion",
    "priceoverride",
    "includedusage",
    "minimumspend",
    "trial",
    "subscriptionchange",
    "testclock",
]
BALANCES = ["balance", "ledgerentry"]
BILLING = [
    "invoice",
    "invoiceline",
    "invoicerun",
    "invoicerunchunk",
    "creditnote",
    "creditnoteline",
    "invoicedocument",
    "taxrate",
    "revenueentry",
    "revenuereport",
    "monthendclose",
    "webhookendpoint",
    "webhookevent",
    "webhookdelivery",
    "webhookattempt",
]
USAGE = ["usageevent", "rejectedevent", "metricrollupstate"]


def full(app: str, models: list[str]) -> list[str]:
    return [f"{app}.{verb}_{model}" for model in models for verb in ("add", "change", "delete", "view")]


def view(app: str, models: list[str]) -> list[str]:
    return [f"{app}.view_{model}" for model in models]


_READ_ALL = [
    *view("catalog", CATALOG),
    *view("contracts", CONTRACT_TERMS + BALANCES),
    *view("billing", BILLING),
    *view("usage", USAGE),
    "contracts.view_all_customers",
    *SEE_REQUESTS,
]

ROLES: dict[str, list[str]] = {
    # Money: invoices, credit notes, balances (commits and credits), invoice runs.
    FINANCE: [
        *_READ_ALL,
        *full("billing", BILLING),
        *full("contracts", BALANCES),
        "revops.view_auditlog",
        "revops.view_approvalpolicy",
        "revops.change_approvalpolicy",
    ],
    # The catalog and contracts, in full; activating a version is theirs to ask (approval decides).
    REVOPS: [
        *_READ_ALL,
        *full("catalog", CATALOG),
        "catalog.activate_ratecardversion",
        *full("contracts", CONTRACT_TERMS),
        "revops.view_auditlog",
    ],
    # Reads their customers and contracts; proposes discounts as amendments with overrides (approval decides).
    SALES: [
        *view("catalog", CATALOG),
        *view("contracts", CONTRACT_TERMS + BALANCES),
        *view("usage", ["usageevent"]),
        "contracts.add_contractversion",
        "contracts.add_priceoverride",
        "contracts.change_priceoverride",
        *SEE_REQUESTS,
    ],
    # Proposes prices: edits draft versions and prices of the rate cards they own; cannot activate.
    PRODUCT: [
        *view("catalog", CATALOG),
        *full("catalog", ["price", "pricetier"]),
        "catalog.add_ratecardversion",
        "catalog.change_ratecardversion",
        *SEE_REQUESTS,
    ],
    # Decides approval requests, reading whatever a request concerns.
    APPROVER: [*_READ_ALL, *APPROVAL_PERMISSIONS],
    # Reads everything, history and audit log included; changes nothing.
    AUDITOR: [
        *_READ_ALL,
        "revops.view_apikey",
        "revops.view_auditlog",
        "auth.view_user",
        "auth.view_group",
        "revops.view_approvaldecision",
        "revops.view_approvalpolicy",
    ],
    # Reads the customers they look after and those customers' invoices.
    SUPPORT: [
        *view("contracts", ["customer", "customeralias", "contract"]),
        *view("billing", ["invoice", "invoiceline", "creditnote", "creditnoteline", "invoicedocument"]),
        *view("usage", ["usageevent"]),
    ],
}


def resolve(names: list[str]) -> list[Permission]:
    """The Permission rows for `app_label.codename` names; raises ValueError naming every unknown one."""
    wanted = set(names)
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={n.partition(".")[2] for n in wanted}
        )
    }
    unknown = sorted(wanted - set(found))
    if unknown:
        raise ValueError(f"unknown permission(s) in revops/roles.py: {', '.join(unknown)}")
    return [found[n] for n in sorted(wanted)]


@transaction.atomic
def roles_setup() -> dict[str, int]:
    """Create or update every role's group so it holds exactly its listed permissions. Idempotent."""
    counts = {}
    for role, names in ROLES.items():
        permissions = resolve(names)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts
