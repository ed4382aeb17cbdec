from django.urls import path

from contracts.api import amendments, balances, contracts, customers, previews, subscriptions

CONTRACT = "contracts/<int:pk>"
BALANCE = f"{CONTRACT}/balances/<int:balance_id>"

urlpatterns = [
    path("customers", customers.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:external_id>", customers.CustomerDetailApi.as_view(), name="customer-detail"),
    path(
        "customers/<str:external_id>/aliases", customers.CustomerAliasListCreateApi.as_view(), name="customer-aliases"
    ),
    path(
        "customers/<str:external_id>/aliases/<str:alias>",
        customers.CustomerAliasDeleteApi.as_view(),
        name="customer-alias-detail",
    ),
    path("contracts", contracts.ContractListCreateApi.as_view(), name="contracts"),
    path(CONTRACT, contracts.ContractDetailApi.as_view(), name="contract-detail"),
    path(f"{CONTRACT}/activate", contracts.ContractActivateApi.as_view(), name="contract-activate"),
    path(f"{CONTRACT}/end", contracts.ContractEndApi.as_view(), name="contract-end"),
    path(f"{CONTRACT}/amendments", amendments.ContractAmendmentListCreateApi.as_view(), name="contract-amendments"),
    path(f"{CONTRACT}/subscriptions", subscriptions.SubscriptionListCreateApi.as_view(), name="contract-subscriptions"),
    path(f"{CONTRACT}/plan-changes", subscriptions.PlanChangeCreateApi.as_view(), name="contract-plan-changes"),
    path(f"{CONTRACT}/preview", previews.ContractPreviewApi.as_view(), name="contract-preview"),
    path(f"{CONTRACT}/balances", balances.BalanceListCreateApi.as_view(), name="contract-balances"),
    path(f"{BALANCE}/entries", balances.BalanceEntryListApi.as_view(), name="contract-balance-entries"),
    path(f"{BALANCE}/adjust", balances.BalanceAdjustApi.as_view(), name="contract-balance-adjust"),
    path(f"{BALANCE}/void", balances.BalanceVoidApi.as_view(), name="contract-balance-void"),
]
