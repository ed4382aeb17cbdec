"""What each API operation needs from a staff session (the admin's model permissions), and which writes are audited.

One table for every view, keyed by view class name and HTTP method. A staff user logged in to the
API gets the same answer the admin gives them: the model permission listed here. A view missing
from this table refuses staff sessions (fail closed), and tests/revops/test_permission_matrix.py
fails naming it. API keys are not checked here: their scopes decide (revops/api/permissions.py).

`reason=True` marks a write to an audited model (prices, terms, money, permissions): the caller
must say why, in a `reason` field or an `X-Change-Reason` header, or gets a 400.

`scope` names the object the URL points at, so a user who may not see it (an account manager's
customers, a product manager's rate cards) gets a 404 or a 403 as the admin would.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    perms: tuple[str, ...] = ()
    reason: bool = False


def read(*perms: str) -> Rule:
    return Rule(perms=perms)


def write(*perms: str) -> Rule:
    return Rule(perms=perms, reason=True)


def act(*perms: str) -> Rule:
    """A POST on a record that is not audited by its own history (a decision carries its reason; a test clock
    is a simulation): the permission alone."""
    return Rule(perms=perms)


def dry_run(*perms: str) -> Rule:
    """A POST that computes and stores nothing (previews)."""
    return Rule(perms=perms)


API_RULES: dict[str, dict[str, Rule]] = {
    "WhoAmIApi": {"GET": read()},
    # --- customers and contracts ---
    "CustomerListCreateApi": {"GET": read("contracts.view_customer"), "POST": write("contracts.add_customer")},
    "CustomerDetailApi": {"GET": read("contracts.view_customer"), "PATCH": write("contracts.change_customer")},
    "CustomerAliasListCreateApi": {
        "GET": read("contracts.view_customeralias"),
        "POST": write("contracts.add_customeralias"),
    },
    "CustomerAliasDeleteApi": {"DELETE": write("contracts.delete_customeralias")},
    "ContractListCreateApi": {"GET": read("contracts.view_contract"), "POST": write("contracts.add_contract")},
    "ContractDetailApi": {"GET": read("contracts.view_contract")},
    "ContractActivateApi": {"POST": write("contracts.change_contract")},
    "ContractEndApi": {"POST": write("contracts.change_contract")},
    "ContractAmendmentListCreateApi": {
        "GET": read("contracts.view_contractversion"),
        "POST": write("contracts.add_contractversion"),
    },
    "SubscriptionListCreateApi": {
        "GET": read("contracts.view_subscriptionchange"),
        "POST": write("contracts.add_subscriptionchange"),
    },
    "PlanChangeCreateApi": {"POST": write("contracts.add_subscriptionchange")},
    "ContractPreviewApi": {"POST": dry_run("contracts.view_contract")},
    "BalanceListCreateApi": {"GET": read("contracts.view_balance"), "POST": write("contracts.add_balance")},
    "BalanceEntryListApi": {"GET": read("contracts.view_ledgerentry")},
    "BalanceAdjustApi": {"POST": write("contracts.change_balance")},
    "BalanceVoidApi": {"POST": write("contracts.change_balance")},
    # --- catalog ---
    "MetricListCreateApi": {"GET": read("catalog.view_billablemetric"), "POST": write("catalog.add_billablemetric")},
    "MetricDetailApi": {"GET": read("catalog.view_billablemetric"), "PATCH": write("catalog.change_billablemetric")},
    "MetricDefinitionPreviewApi": {"POST": dry_run("catalog.view_billablemetric")},
    "MetricPreviewApi": {"POST": dry_run("catalog.view_billablemetric")},
    "ProductListCreateApi": {"GET": read("catalog.view_product"), "POST": write("catalog.add_product")},
    "ProductDetailApi": {"GET": read("catalog.view_product"), "PATCH": write("catalog.change_product")},
    "RateCardListCreateApi": {"GET": read("catalog.view_ratecard"), "POST": write("catalog.add_ratecard")},
    "RateCardDetailApi": {"GET": read("catalog.view_ratecard")},
    "RateCardVersionListCreateApi": {
        "GET": read("catalog.view_ratecardversion"),
        "POST": write("catalog.add_ratecardversion"),
    },
    "RateCardVersionDetailApi": {
        "GET": read("catalog.view_ratecardversion"),
        "PATCH": write("catalog.change_ratecardversion"),
    },
    "RateCardVersionActivateApi": {"POST": write("catalog.activate_ratecardversion")},
    "RateCardVersionRollbackApi": {"POST": write("catalog.add_ratecardversion")},
    "RateCardVersionPreviewApi": {"POST": dry_run("catalog.view_ratecardversion")},
    "PriceCreateApi": {"POST": write("catalog.add_price")},
    "PriceDetailApi": {"PUT": write("catalog.change_price"), "DELETE": write("catalog.delete_price")},
    # --- usage ---
    "EventIngestApi": {"POST": Rule(perms=("usage.add_usageevent",))},  # events are counted, not audited
    "CurrentUsageApi": {"GET": read("usage.view_usageevent")},
    "ContractMigrationPreviewApi": {"POST": dry_run("contracts.view_contract")},
    "ContractMigrationApi": {"POST": write("contracts.change_contract")},
    "UpcomingInvoiceApi": {"GET": read("contracts.view_contract")},
    # --- billing ---
    "InvoiceListApi": {"GET": read("billing.view_invoice")},
    "InvoiceDetailApi": {"GET": read("billing.view_invoice")},
    "InvoiceRecomputeApi": {"POST": write("billing.change_invoice")},
    "InvoiceFinalizeApi": {"POST": write("billing.change_invoice")},
    "InvoiceVoidApi": {"POST": write("billing.change_invoice")},
    "InvoiceMarkPaidApi": {"POST": write("billing.change_invoice")},
    "InvoicePdfApi": {"GET": read("billing.view_invoice")},
    "InvoiceCreditNotesApi": {"GET": read("billing.view_creditnote"), "POST": write("billing.add_creditnote")},
    "ContractInvoiceComputeApi": {"POST": write("billing.add_invoice")},
    "TaxRateListCreateApi": {"GET": read("billing.view_taxrate"), "POST": write("billing.add_taxrate")},
    "TaxRateDetailApi": {"GET": read("billing.view_taxrate"), "PATCH": write("billing.change_taxrate")},
    "RevenueReportApi": {"GET": read("billing.view_revenuereport")},
    "MonthEndReportApi": {"GET": read("billing.view_monthendclose")},
    # --- webhooks ---
    "WebhookEndpointListCreateApi": {
        "GET": read("billing.view_webhookendpoint"),
        "POST": write("billing.add_webhookendpoint"),
    },
    "WebhookEndpointDetailApi": {
        "GET": read("billing.view_webhookendpoint"),
        "PATCH": write("billing.change_webhookendpoint"),
        "DELETE": write("billing.delete_webhookendpoint"),
    },
    "WebhookEndpointDisableApi": {"POST": write("billing.change_webhookendpoint")},
    "WebhookEndpointRotateSecretApi": {"POST": write("billing.change_webhookendpoint")},
    "WebhookEndpointTestApi": {"POST": act("billing.change_webhookendpoint")},
    "WebhookEventListApi": {"GET": read("billing.view_webhookevent")},
    "WebhookEventDetailApi": {"GET": read("billing.view_webhookevent")},
    "WebhookEventReplayApi": {"POST": act("billing.add_webhookdelivery")},
    "WebhookDeliveryListApi": {"GET": read("billing.view_webhookdelivery")},
    "WebhookDeliveryDetailApi": {"GET": read("billing.view_webhookdelivery")},
    # --- test clocks (simulated customers) ---
    "TestClockListCreateApi": {"GET": read("contracts.view_testclock"), "POST": act("contracts.add_testclock")},
    "TestClockDetailApi": {"GET": read("contracts.view_testclock"), "DELETE": act("contracts.delete_testclock")},
    "TestClockAdvanceApi": {"POST": act("contracts.change_testclock")},
    "TestClockCustomerAttachApi": {"POST": write("contracts.change_customer")},
    # --- approvals (the services check who may decide and that no one approves their own change) ---
    "ApprovalListApi": {"GET": read("revops.view_approvalrequest")},
    "ApprovalDetailApi": {"GET": read("revops.view_approvalrequest")},
    "ApprovalApproveApi": {"POST": act("revops.decide_approvalrequest")},
    "ApprovalRejectApi": {"POST": act("revops.decide_approvalrequest")},
    "ApprovalCancelApi": {"POST": act("revops.view_approvalrequest")},  # the author's own: the service checks
    "ApprovalPolicyApi": {"GET": read("revops.view_approvalpolicy"), "POST": write("revops.change_approvalpolicy")},
    # --- audit ---
    "AuditLogApi": {"GET": read("revops.view_auditlog")},
    "AuditLogCsvApi": {"GET": read("revops.view_auditlog")},
    "RateCardAsOfApi": {"GET": read("catalog.view_ratecard")},
    "ContractAsOfApi": {"GET": read("contracts.view_contract")},
}

# Which object a view's URL names, for object permissions: (kind, URL keyword).
SCOPES: dict[str, tuple[str, str]] = {
    "CustomerDetailApi": ("customer", "external_id"),
    "CustomerAliasListCreateApi": ("customer", "external_id"),
    "CustomerAliasDeleteApi": ("customer", "external_id"),
    "CurrentUsageApi": ("customer", "external_id"),
    "ContractDetailApi": ("contract", "pk"),
    "ContractActivateApi": ("contract", "pk"),
    "ContractEndApi": ("contract", "pk"),
    "ContractAmendmentListCreateApi": ("contract", "pk"),
    "SubscriptionListCreateApi": ("contract", "pk"),
    "PlanChangeCreateApi": ("contract", "pk"),
    "ContractPreviewApi": ("contract", "pk"),
    "BalanceListCreateApi": ("contract", "pk"),
    "BalanceEntryListApi": ("contract", "pk"),
    "BalanceAdjustApi": ("contract", "pk"),
    "BalanceVoidApi": ("contract", "pk"),
    "UpcomingInvoiceApi": ("contract", "pk"),
    "ContractAsOfApi": ("contract", "pk"),
    "ContractInvoiceComputeApi": ("contract", "pk"),
    "InvoiceDetailApi": ("invoice", "pk"),
    "InvoiceRecomputeApi": ("invoice", "pk"),
    "InvoiceFinalizeApi": ("invoice", "pk"),
    "InvoiceVoidApi": ("invoice", "pk"),
    "InvoiceMarkPaidApi": ("invoice", "pk"),
    "InvoicePdfApi": ("invoice", "pk"),
    "InvoiceCreditNotesApi": ("invoice", "pk"),
    "RateCardVersionListCreateApi": ("rate_card", "code"),
    "RateCardVersionDetailApi": ("rate_card", "code"),
    "RateCardVersionActivateApi": ("rate_card", "code"),
    "RateCardVersionRollbackApi": ("rate_card", "code"),
    "PriceCreateApi": ("rate_card", "code"),
    "PriceDetailApi": ("rate_card", "code"),
}


def rule_for(view, method: str) -> Rule | None:
    return API_RULES.get(type(view).__name__, {}).get(method)
