"""`manage.py bootstrap` (the first half of `make run`): migrate, demo data once, demo login."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from contracts.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_demo_usage(settings):
    settings.REVOPS_DEMO_USAGE_DAYS = 5  # the whole demo, with a few days of usage instead of three months


def test_bootstrap_loads_demo_data_once_and_the_printed_login_works(capsys, settings):
    call_command("bootstrap")
    out = capsys.readouterr().out
    assert f"demo staff login: {settings.REVOPS_DEMO_USERNAME} / {settings.REVOPS_DEMO_PASSWORD}" in out
    count = Customer.objects.count()
    assert count >= 20
    call_command("bootstrap")  # a second run adds nothing and keeps the login
    assert Customer.objects.count() == count
    assert get_user_model().objects.filter(username=settings.REVOPS_DEMO_USERNAME).count() == 1

    client = Client()
    assert client.login(username=settings.REVOPS_DEMO_USERNAME, password=settings.REVOPS_DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/contracts/customer/").status_code == 200
    from billing.models import Invoice

    # The demo's ended months are invoiced (its contracts start on 2026-08-01; the clock is past November 3rd).
    assert Invoice.objects.filter(status="finalized").exists()


def test_demo_customers_span_currencies_and_timezones():
    call_command("demo_data", skip_invoices=True)
    assert set(Customer.objects.values_list("currency", flat=True)) >= {"USD", "EUR", "GBP", "JPY"}
    assert Customer.objects.values("timezone").distinct().count() >= 8
    assert all(c.history.exists() for c in Customer.objects.all())


def test_demo_catalog_uses_every_price_model_and_has_version_history():
    from catalog.models import Price, PriceTier, RateCardVersion
    from catalog.rating import PriceModel

    call_command("demo_data", skip_invoices=True)
    assert set(Price.objects.values_list("model", flat=True)) == {m.value for m in PriceModel}
    assert Price.objects.exclude(group_key="").exists()  # dimensional
    assert Price.objects.filter(included_units__gt=0).exists()
    assert Price.objects.filter(minimum_charge__isnull=False).exists()
    assert PriceTier.objects.filter(flat_fee__gt=0).exists()
    statuses = list(RateCardVersion.objects.filter(rate_card__code="standard-usd").values_list("status", flat=True))
    assert statuses == ["active", "active", "draft"]


def test_demo_contracts_cover_every_kind_of_term():
    from contracts.models import (
        Balance,
        Contract,
        ContractVersion,
        IncludedUsage,
        MinimumSpend,
        PriceOverride,
        SubscriptionChange,
        Trial,
    )

    call_command("demo_data", skip_invoices=True)
    assert Contract.objects.filter(status="active").count() == Customer.objects.count()
    assert Contract.objects.filter(pinned_version__isnull=False).exists()  # grandfathered
    assert Contract.objects.filter(cadence="annual").exists()
    assert set(PriceOverride.objects.values_list("kind", flat=True)) == {"replace", "multiplier", "discount"}
    assert IncludedUsage.objects.exists() and MinimumSpend.objects.exists() and Trial.objects.exists()
    assert set(Balance.objects.values_list("kind", flat=True)) == {"commit", "credit"}
    assert ContractVersion.objects.filter(number=2).exists()  # an amendment
    assert SubscriptionChange.objects.exclude(effective_date="2026-08-01").exists()  # a mid-term seat change
