"""Contracts priced together: seats, included usage, overrides, minimums, trials, amendments, plan changes.

Every amount is worked out by hand in the comment beside it.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.services import metrics, products, rate_cards
from contracts import selectors
from contracts.models import Customer
from contracts.services import contracts as svc
from revops.errors import Conflict, ValidationError
from revops.periods import Period

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))  # 30 days


@pytest.fixture
def card(db):
    """Seats at 40, a platform fee of 500, AI credits at 0.01, tokens per model, on a USD card from 2026-01-01."""
    credits_metric = metrics.metric_create(
        code="credits", name="Credits", event_type="credits.used", aggregation="sum", property="credits", actor=None
    )
    tokens_metric = metrics.metric_create(
        code="tokens",
        name="Tokens",
        event_type="llm",
        aggregation="sum",
        property="tokens",
        group_by=["model"],
        actor=None,
    )
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    pro = products.product_create(code="pro-seat", name="Pro seat", kind="subscription", actor=None)
    fee = products.product_create(code="platform", name="Platform fee", kind="recurring_fee", actor=None)
    credits = products.product_create(
        code="credits", name="AI credits", kind="usage", metric=credits_metric, actor=None
    )
    tokens = products.product_create(code="tokens", name="Tokens", kind="usage", metric=tokens_metric, actor=None)
    rate_card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=rate_card, effective_from=dt.date(2026, 1, 1), actor=None)
    for product, values in [
        (seat, {"model": "per_unit", "unit_price": D(40)}),
        (pro, {"model": "per_unit", "unit_price": D(70)}),
        (fee, {"model": "flat", "flat_amount": D(500)}),
        (credits, {"model": "per_unit", "unit_price": D("0.01")}),
    ]:
        rate_cards.price_set(version=version, product=product, values=values, actor=None)
    rate_cards.price_set(
        version=version,
        product=tokens,
        values={"model": "per_unit", "unit_price": D("0.001")},
        group_key="model",
        group_value="large",
        actor=None,
    )
    rate_cards.price_set(
        version=version,
        product=tokens,
        values={"model": "per_unit", "unit_price": D("0.0001")},
        group_key="model",
        group_value="",
        actor=None,
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    return {"card": rate_card, "seat": seat, "pro": pro, "fee": fee, "credits": credits, "tokens": tokens}


@pytest.fixture
def acme(db):
    return Customer.objects.create(external_id="acme", name="Acme", currency="USD")


def amounts(lines):
    return [(line.description, line.amount) for line in lines]


def test_seats_with_included_credits_and_overage_on_one_invoice(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(included_usage=[(card["credits"], D(1000))]),
        subscriptions=[(card["seat"], D(10))],
    )
    lines = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={"credits": D(5000)})
    # 10 seats x 40 = 400.00; 5,000 credits - 1,000 included = 4,000 x 0.01 = 40.00
    assert [line.amount for line in lines] == [D("400.00"), D("40.00")]
    assert lines[1].line.included_quantity == 1000 and lines[1].line.billable_quantity == 4000


def test_a_mid_period_seat_change_is_prorated_by_day(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        subscriptions=[(card["seat"], D(10))],
    )
    svc.subscription_change(
        contract=contract, product=card["seat"], quantity=D(16), effective_date=dt.date(2026, 11, 21), actor=None
    )
    lines = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={})
    # 10 seats x 40 x 20/30 days = 266.666... -> 266.67; 16 seats x 40 x 10/30 = 213.333... -> 213.33
    assert [line.amount for line in lines] == [D("266.67"), D("213.33")]
    assert "prorated 20/30 days" in lines[0].description


def test_a_change_at_period_end_waits_for_the_next_period(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        subscriptions=[(card["seat"], D(10))],
    )
    change = svc.subscription_change(
        contract=contract,
        product=card["seat"],
        quantity=D(4),
        effective_date=dt.date(2026, 11, 12),
        timing="period_end",
        actor=None,
    )
    assert change.effective_date == dt.date(2026, 12, 1)
    assert [line.amount for line in selectors.contract_preview(contract=contract, period=NOVEMBER, usage={})] == [
        D("400.00")
    ]
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    assert [line.amount for line in selectors.contract_preview(contract=contract, period=december, usage={})] == [
        D("160.00")  # 4 x 40
    ]


def test_an_immediate_upgrade_prorates_both_plans(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        subscriptions=[(card["seat"], D(3))],
    )
    svc.plan_change(
        contract=contract,
        from_product=card["seat"],
        to_product=card["pro"],
        quantity=D(3),
        on=dt.date(2026, 11, 16),
        timing="immediate",
        actor=None,
    )
    lines = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={})
    # 3 x 40 x 15/30 = 60.00 on the old plan; 3 x 70 x 15/30 = 105.00 on the new one
    assert sorted(line.amount for line in lines) == [D("60.00"), D("105.00")]


def test_overrides_discount_multiply_and_replace(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(
            overrides=[
                svc.OverrideSpec("discount", card["seat"], discount_percent=D(25)),
                svc.OverrideSpec("multiplier", None, multiplier=D("0.9")),  # the whole card, except seats
                svc.OverrideSpec(
                    "replace",
                    card["credits"],
                    price={
                        "model": "graduated",
                        "tiers": [
                            {"start": D(0), "up_to": D(1000), "unit_price": D(0)},
                            {"start": D(1000), "up_to": None, "unit_price": D("0.02")},
                        ],
                    },
                ),
            ]
        ),
        subscriptions=[(card["seat"], D(10)), (card["fee"], D(1))],
    )
    lines = selectors.contract_preview(
        contract=contract, period=NOVEMBER, usage={"credits": D(3000), "tokens": {"large": D(10000)}}
    )
    by_product = {line.product.code: line.amount for line in lines}
    # seats: 10 x 40 x 0.75 = 300.00; platform: 500 x 0.9 = 450.00
    # credits: first 1,000 free, 2,000 x 0.02 = 40.00; tokens (large): 10,000 x 0.001 x 0.9 = 9.00
    assert by_product == {"seat": D("300.00"), "platform": D("450.00"), "credits": D("40.00"), "tokens": D("9.00")}


def test_minimum_spend_bills_the_shortfall(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(minimum_spend=D(1000)),
        subscriptions=[(card["seat"], D(5))],
    )
    lines = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={"credits": D(12345)})
    # seats 5 x 40 = 200.00; credits 12,345 x 0.01 = 123.45; true-up 1,000 - 323.45 = 676.55
    assert [line.amount for line in lines] == [D("200.00"), D("123.45"), D("676.55")]


def test_a_shared_allowance_covers_the_dearest_group_first(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(included_usage=[(card["tokens"], D(15000))]),
    )
    lines = selectors.contract_preview(
        contract=contract, period=NOVEMBER, usage={"tokens": {"large": D(10000), "small": D(20000)}}
    )
    # 15,000 free: all 10,000 large (0.001) first, then 5,000 of small; 15,000 small x 0.0001 = 1.50
    assert [(line.line.group, line.amount) for line in lines] == [("large", D("0.00")), ("small", D("1.50"))]


def test_a_trial_makes_base_fees_free_until_it_ends(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 11, 1),
        actor=None,
        terms=svc.Terms(trial=(dt.date(2026, 11, 15), False)),
        subscriptions=[(card["seat"], D(3))],
    )
    lines = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={"credits": D(100)})
    # seats from the 15th: 3 x 40 x 16/30 = 64.00; usage is billed (the trial ended mid-period)
    assert [line.amount for line in lines] == [D("64.00"), D("1.00")]


def test_amendments_keep_the_earlier_terms_readable(card, acme):
    contract = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(minimum_spend=D(500)),
        subscriptions=[(card["seat"], D(2))],
    )
    svc.contract_amend(
        contract=contract,
        effective_from=dt.date(2026, 11, 1),
        actor=None,
        reason="renewal",
        terms=svc.Terms(overrides=[svc.OverrideSpec("discount", card["seat"], discount_percent=D(50))]),
    )
    october = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    before = selectors.contract_preview(contract=contract, period=october, usage={})
    after = selectors.contract_preview(contract=contract, period=NOVEMBER, usage={})
    # October: 2 x 40 = 80 + true-up to 500 (420.00). November: 2 x 40 x 0.5 = 40 + true-up 460.00
    assert [line.amount for line in before] == [D("80.00"), D("420.00")]
    assert [line.amount for line in after] == [D("40.00"), D("460.00")]
    assert selectors.contract_as_of(contract, dt.date(2026, 10, 15)).version.number == 1
    assert selectors.contract_as_of(contract, dt.date(2026, 11, 15)).version.number == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end_date": dt.date(2025, 12, 1)}, "end_date"),
        ({"terms": svc.Terms(minimum_spend=D(-5))}, "minimum_spend"),
        ({"cadence": "weekly"}, "cadence"),
    ],
)
def test_bad_contracts_are_refused_and_nothing_is_created(card, acme, kwargs, field):
    from contracts.models import Contract

    with pytest.raises(ValidationError) as excinfo:
        svc.contract_create(customer=acme, rate_card=card["card"], start_date=dt.date(2026, 1, 1), actor=None, **kwargs)
    assert field in excinfo.value.fields
    assert not Contract.objects.exists()


def test_a_currency_that_differs_from_the_rate_card_is_refused(card):
    euro = Customer.objects.create(external_id="eu", name="EU", currency="EUR")
    with pytest.raises(ValidationError) as excinfo:
        svc.contract_create(customer=euro, rate_card=card["card"], start_date=dt.date(2026, 1, 1), actor=None)
    assert excinfo.value.code == "currency_mismatch"


def test_overlapping_terms_are_refused(card, acme):
    with pytest.raises(ValidationError) as excinfo:
        svc.contract_create(
            customer=acme,
            rate_card=card["card"],
            start_date=dt.date(2026, 1, 1),
            actor=None,
            terms=svc.Terms(included_usage=[(card["credits"], D(10)), (card["credits"], D(20))]),
        )
    assert "included_usage.1" in excinfo.value.fields


def test_an_amendment_removes_the_minimum_and_the_trial_from_its_date(card, acme):
    contract = svc.contract_create(
        customer=acme, rate_card=card["card"], start_date=dt.date(2026, 1, 1), actor=None,
        terms=svc.Terms(minimum_spend=D(500), trial=(dt.date(2027, 1, 1), False)),
        subscriptions=[(card["seat"], D(2))],
    )  # fmt: skip
    with pytest.raises(ValidationError) as both:
        svc.contract_amend(
            contract=contract, effective_from=dt.date(2026, 11, 1), actor=None, reason="renewal",
            terms=svc.Terms(minimum_spend=D(600), remove_minimum=True),
        )  # fmt: skip
    assert list(both.value.fields) == ["minimum_spend"] and contract.versions.count() == 1
    svc.contract_amend(
        contract=contract, effective_from=dt.date(2026, 11, 1), actor=None, reason="renewal without a minimum",
        terms=svc.Terms(remove_minimum=True, remove_trial=True),
    )  # fmt: skip
    october = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    # October: in the trial (no fees) with a 500 minimum; November: 2 x 40 and nothing else.
    assert [line.amount for line in selectors.contract_preview(contract=contract, period=october, usage={})] == [
        D("500.00")
    ]
    assert [line.amount for line in selectors.contract_preview(contract=contract, period=NOVEMBER, usage={})] == [
        D("80.00")
    ]
    v2 = contract.versions.get(number=2)
    assert (v2.minimums.count(), v2.trials.count()) == (0, 0)
    assert contract.versions.get(number=1).minimums.get().amount == D(500)  # the earlier version as it was


def test_amendments_must_move_forward_in_time(card, acme):
    contract = svc.contract_create(customer=acme, rate_card=card["card"], start_date=dt.date(2026, 1, 1), actor=None)
    with pytest.raises(ValidationError) as excinfo:
        svc.contract_amend(
            contract=contract, effective_from=dt.date(2026, 1, 1), actor=None, reason="x", terms=svc.Terms()
        )
    assert excinfo.value.code == "dates_out_of_order"
    svc.contract_end(contract=contract, end_date=dt.date(2026, 6, 1), actor=None, reason="churned")
    with pytest.raises(Conflict):
        svc.contract_amend(
            contract=contract, effective_from=dt.date(2026, 3, 1), actor=None, reason="x", terms=svc.Terms()
        )


def test_a_pinned_contract_keeps_its_version_when_the_card_moves_on(card, acme):
    v1 = card["card"].versions.get(number=1)
    pinned = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        pinned_version=v1,
        subscriptions=[(card["seat"], D(1))],
    )
    following = svc.contract_create(
        customer=acme,
        rate_card=card["card"],
        start_date=dt.date(2026, 1, 1),
        actor=None,
        subscriptions=[(card["seat"], D(1))],
    )
    v2 = rate_cards.rate_card_version_create(rate_card=card["card"], effective_from=dt.date(2026, 11, 1), actor=None)
    rate_cards.price_set(
        version=v2, product=card["seat"], values={"model": "per_unit", "unit_price": D(45)}, replace=True, actor=None
    )
    rate_cards.rate_card_version_activate(version=v2, actor=None, as_of=T0)
    assert [line.amount for line in selectors.contract_preview(contract=pinned, period=NOVEMBER, usage={})] == [
        D("40.00")
    ]
    assert [line.amount for line in selectors.contract_preview(contract=following, period=NOVEMBER, usage={})] == [
        D("45.00")
    ]


def test_a_removal_survives_an_approval_requests_payload(card):
    from contracts.services.approvals import terms_from_json, terms_to_json

    change = svc.Terms(minimum_spend=None, remove_minimum=True, remove_trial=True)
    assert terms_from_json(terms_to_json(change)) == change
    kept = svc.Terms(minimum_spend=D(600))
    assert terms_from_json(terms_to_json(kept)) == kept
