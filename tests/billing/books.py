"""Four months of books for the report tests, every figure worked out by hand in test_reports.py.

USD (the fixture's card: seat 40 a period, AI credits 0.01 with 1,000 included):
- gamma buys a 1,000 commitment (1 Jan to 1 Jul); January's invoice bills it on 31 Jan; February's 100.00 and
  March's 300.00 of usage are paid from it (invoices finalized 1 Mar and 1 Apr, totals 0.00).
- beta has 1 seat from the 15th, billed in advance: 15 Jan-15 Feb finalized 15 Feb (80.00: that period and
  15 Feb-15 Mar ahead); 15 Feb-15 Mar finalized 15 Mar (40.00 for 15 Mar-15 Apr ahead, plus a 20.00 correction
  for 3,000 credits used 10 Feb that arrived on 20 Feb, after its period was final).
  A 10.00 credit note on the fee billed ahead for 15 Mar-15 Apr on 20 Mar.
EUR (a second card: seat 30):
- delta has 1 seat from 1 Jan: January finalized 1 Feb (60.00: January and February ahead) and voided 20 Mar;
  February is still a draft (60.00: February again, as the invoice that billed it was voided, and March ahead).
"""

import datetime as dt
from decimal import Decimal as D

from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_compute, invoice_void
from catalog.models import Product
from catalog.services import rate_cards
from contracts.models import Customer
from contracts.services import balances
from contracts.services import contracts as svc
from revops.periods import Period
from tests.billing.revenue_support import another_contract, at, close, commitment_granted, spend


def eur_contract():
    card = rate_cards.rate_card_create(code="eur", name="Euro", currency="EUR", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    seat, credits = Product.objects.get(code="seat"), Product.objects.get(code="credits")
    rate_cards.price_set(version=version, product=seat, values={"model": "per_unit", "unit_price": D(30)}, actor=None)
    rate_cards.price_set(
        version=version, product=credits, values={"model": "per_unit", "unit_price": D("0.01")}, actor=None
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=at(2025, 12, 1))
    customer = Customer.objects.create(external_id="delta", name="Delta", currency="EUR")
    contract = svc.contract_create(
        customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None, subscriptions=[(seat, D(1))]
    )
    svc.contract_activate(contract=contract, actor=None)
    return contract


def make_books(contract):
    gamma = another_contract(contract, "gamma")
    commit = commitment_granted(gamma)
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    delta = eur_contract()
    books = {"commit": commit}
    books["gamma_jan"] = close(gamma, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 1, 31))
    books["delta_jan"] = close(delta, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 2, 1))
    spend("gamma", 11_000, on=at(2026, 2, 10), prefix="feb")
    books["beta_1"] = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    spend("beta", 3_000, on=at(2026, 2, 10), prefix="late", received=at(2026, 2, 20))
    books["gamma_feb"] = close(gamma, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    spend("gamma", 31_000, on=at(2026, 3, 10), prefix="mar")
    books["beta_2"] = close(beta, dt.date(2026, 2, 15), dt.date(2026, 3, 15), as_of=at(2026, 3, 15))
    seat_fee = books["beta_2"].lines.get(kind="subscription")
    books["credit_note"] = credit_note_create(
        invoice=books["beta_2"], reason="outage", lines=[(seat_fee, D("10.00"))], as_of=at(2026, 3, 20), actor=None
    )
    invoice_void(invoice=books["delta_jan"], reason="billed twice", as_of=at(2026, 3, 20, 10), actor=None)
    books["delta_feb"] = invoice_compute(
        contract=delta, period=Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1)), as_of=at(2026, 3, 2)
    )
    books["gamma_mar"] = close(gamma, dt.date(2026, 3, 1), dt.date(2026, 4, 1), as_of=at(2026, 4, 1))
    balances.balance_expire(balance=commit, as_of=at(2026, 7, 1, 0), actor=None)
    return books
