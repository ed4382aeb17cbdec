"""The catalog admin, driven as finance staff drive it: a logged-in superuser posting the admin's own forms."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from catalog.models import BillableMetric, Price, PriceTier, Product, RateCard, RateCardVersion, VersionStatus
from catalog.services import metrics, rate_cards
from revops import clock
from tests.catalog.factories import T0, graduated_tiers, per_unit, rate_card, seat_product, tokens_metric, usage_product
from tests.revops.approval_support import approve_latest

pytestmark = pytest.mark.django_db
D = Decimal


def url(name: str, *args) -> str:
    return reverse(f"admin:catalog_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def text(response) -> str:
    """The page as text with tags removed and whitespace collapsed, for asserting on what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def catalog():
    """A draft version with a per-unit seat and graduated tokens; an active v1 with the same prices."""
    card = rate_card()
    tokens = usage_product(tokens_metric())
    seat = seat_product()
    v1 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 11, 1), actor=None)
    rate_cards.price_set(version=v1, product=seat, values=per_unit("40"), actor=None)
    rate_cards.price_set(version=v1, product=tokens, values={"model": "graduated"}, tiers=graduated_tiers(), actor=None)
    rate_cards.rate_card_version_activate(version=v1, actor=None, as_of=T0)
    v2 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 12, 1), actor=None)
    return {
        "card": card,
        "tokens": tokens,
        "seat": seat,
        "v1": v1,
        "v2": v2,
        "active_price": v1.prices.get(product=tokens),
        "draft_price": v2.prices.get(product=tokens),
    }


def price_form(price: Price | None = None, tiers=(), **values) -> dict:
    """The POST of the price page: the price's fields and the tiers formset with its management form."""
    data = {
        "model": "graduated",
        "flat_amount": "",
        "unit_price": "",
        "package_size": "",
        "package_price": "",
        "package_rounding": "up",
        "percentage": "",
        "fixed_fee_per_event": "",
        "min_per_event": "",
        "max_per_event": "",
        "included_units": "0",
        "minimum_charge": "",
        "maximum_charge": "",
        "rounding": "half_up",
        "change_reason": "test change",
    }
    data.update(values)
    existing = list(price.tiers.order_by("start")) if price else []
    rows = list(tiers)
    data.update(
        {
            "tiers-TOTAL_FORMS": str(max(len(rows), len(existing))),
            "tiers-INITIAL_FORMS": str(len(existing)),
            "tiers-MIN_NUM_FORMS": "0",
            "tiers-MAX_NUM_FORMS": "1000",
        }
    )
    for index in range(max(len(rows), len(existing))):
        prefix = f"tiers-{index}-"
        if index < len(existing):
            data[prefix + "id"] = str(existing[index].pk)
            data[prefix + "price"] = str(price.pk)
        if index < len(rows):
            start, up_to, unit_price, flat_fee = rows[index]
            data.update(
                {
                    prefix + "start": start,
                    prefix + "up_to": up_to,
                    prefix + "unit_price": unit_price,
                    prefix + "flat_fee": flat_fee,
                }
            )
        else:
            data[prefix + "DELETE"] = "on"
            data.update({prefix + "start": "0", prefix + "unit_price": "0", prefix + "flat_fee": "0"})
    return data


def tiers_of(price: Price) -> list[tuple]:
    return [(t.start, t.up_to, t.unit_price, t.flat_fee) for t in price.tiers.order_by("start")]


# --- pages render ---------------------------------------------------------------------------------------------


def test_every_changelist_and_change_page_renders(admin_client, catalog):
    metric = catalog["tokens"].metric
    pages = [
        url("billablemetric_changelist"),
        url("billablemetric_add"),
        url("billablemetric_change", metric.pk),
        url("billablemetric_history", metric.pk),
        url("billablemetric_preview", metric.pk),
        url("product_changelist"),
        url("product_add"),
        url("product_change", catalog["tokens"].pk),
        url("ratecard_changelist"),
        url("ratecard_add"),
        url("ratecard_change", catalog["card"].pk),
        url("ratecardversion_changelist"),
        url("ratecardversion_changelist") + "?status__exact=draft",
        url("ratecardversion_add") + f"?rate_card={catalog['card'].pk}",
        url("ratecardversion_change", catalog["v1"].pk),
        url("ratecardversion_change", catalog["v2"].pk),
        url("ratecardversion_preview", catalog["v2"].pk),
        url("ratecardversion_activate", catalog["v2"].pk),
        url("ratecardversion_new_draft", catalog["v1"].pk),
        url("ratecardversion_history", catalog["v1"].pk),
        url("price_changelist"),
        url("price_add") + f"?version={catalog['v2'].pk}",
        url("price_change", catalog["draft_price"].pk),
        url("price_change", catalog["active_price"].pk),
        url("price_history", catalog["draft_price"].pk),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page


def test_change_pages_link_to_the_previews_and_actions(admin_client, catalog):
    metric_page = admin_client.get(url("billablemetric_change", catalog["tokens"].metric.pk)).content.decode()
    assert url("billablemetric_preview", catalog["tokens"].metric.pk) in metric_page
    draft_page = admin_client.get(url("ratecardversion_change", catalog["v2"].pk)).content.decode()
    assert url("ratecardversion_preview", catalog["v2"].pk) in draft_page
    assert url("ratecardversion_activate", catalog["v2"].pk) in draft_page
    assert url("price_change", catalog["draft_price"].pk) in draft_page  # the link to the price's tiers
    active_page = admin_client.get(url("ratecardversion_change", catalog["v1"].pk)).content.decode()
    assert url("ratecardversion_activate", catalog["v1"].pk) not in active_page
    assert 'name="_save"' not in active_page  # view-only


# --- metrics ------------------------------------------------------------------------------------------------


METRIC_POST = {
    "code": "api-calls",
    "name": "API calls",
    "description": "",
    "unit_label": "calls",
    "event_type": "api.request",
    "aggregation": "count",
    "property": "",
    "filters": "[]",
    "group_by": "",
    "time_unit": "",
    "change_reason": "test change",
}


def test_metric_with_a_bad_definition_shows_the_errors_on_the_fields_and_creates_nothing(admin_client):
    response = admin_client.post(
        url("billablemetric_add"),
        {
            **METRIC_POST,
            "aggregation": "sum",
            "filters": json.dumps([{"property": "region", "operator": "like", "value": "eu"}]),
        },
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["property"] == ["a sum needs the property it aggregates"]
    assert form.errors["filters"] == ["#1 operator: unknown operator 'like'; use eq, in, not_in, exists"]
    assert not BillableMetric.objects.exists()


def test_metric_filters_that_are_not_json_are_refused(admin_client):
    response = admin_client.post(url("billablemetric_add"), {**METRIC_POST, "filters": "[{region: eu}"})
    assert response.status_code == 200
    assert "filters" in response.context["adminform"].form.errors
    assert not BillableMetric.objects.exists()


def test_metric_created_through_the_admin_records_who_and_why_in_its_history(admin_client, admin_user):
    response = admin_client.post(
        url("billablemetric_add"), {**METRIC_POST, "group_by": "endpoint", "change_reason": "launch of the API"}
    )
    assert response.status_code == 302
    metric = BillableMetric.objects.get(code="api-calls")
    assert (metric.aggregation, metric.group_by, metric.filters) == ("count", ["endpoint"], [])
    record = metric.history.get()
    assert (record.history_user, record.history_change_reason) == (admin_user, "launch of the API")

    history = admin_client.get(url("billablemetric_history", metric.pk))
    assert history.status_code == 200
    assert "launch of the API" in text(history)


def test_metric_definition_is_frozen_once_an_active_version_prices_it(admin_client, catalog):
    metric = catalog["tokens"].metric
    page = admin_client.get(url("billablemetric_change", metric.pk))
    assert "aggregation" not in page.context["adminform"].form.fields
    response = admin_client.post(
        url("billablemetric_change", metric.pk),
        {
            "name": "Tokens (all models)",
            "description": "",
            "unit_label": "tokens",
            "aggregation": "count",
            "change_reason": "clearer name",
        },
    )
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.name, metric.aggregation) == ("Tokens (all models)", "sum")
    assert metric.history.latest().history_change_reason == "clearer name"


def test_metric_preview_computes_the_quantity_per_group(admin_client):
    metric = tokens_metric()

    def llm(timestamp: str, tokens, model: str) -> dict:
        return {
            "event_type": "llm.completion",
            "timestamp": timestamp,
            "properties": {"tokens": tokens, "model": model},
        }

    events = [
        llm("2026-11-01T10:00:00Z", 100, "small"),
        llm("2026-11-15T10:00:00Z", 250, "large"),
        llm("2026-11-30T23:59:59", "50", "small"),  # no zone: UTC; a numeric string counts
        llm("2026-12-01T00:00:00Z", 999, "small"),  # the period's end is not in it
        {"event_type": "api.request", "timestamp": "2026-11-02T10:00:00Z", "properties": {"tokens": 7}},
    ]
    form = {"events": json.dumps(events), "start": "2026-11-01 00:00", "end": "2026-12-01 00:00"}

    by_model = admin_client.post(url("billablemetric_preview", metric.pk), {**form, "group_key": "model"})
    assert by_model.status_code == 200
    rows = by_model.context["results"]["rows"]
    assert [(r["group"], r["quantity"], r["events"]) for r in rows] == [("large", "250", 1), ("small", "150", 2)]
    assert by_model.context["results"]["total"] == "400"

    total = admin_client.post(url("billablemetric_preview", metric.pk), {**form, "group_key": ""})
    assert [(r["group"], r["quantity"]) for r in total.context["results"]["rows"]] == [("all events", "400")]
    assert "5 events pasted, 3 counted" in text(total)


@pytest.mark.parametrize(
    ("events", "error"),
    [
        ("[{", "this is not valid JSON"),
        ('{"event_type": "x"}', "paste a JSON list of events"),
        ('[{"event_type": "llm.completion", "timestamp": "yesterday"}]', "event 1: timestamp 'yesterday' is not"),
        (
            '[{"event_type": "llm.completion", "timestamp": "2026-11-02T00:00:00Z", "properties": {"tokens": "many"}}]',
            "property 'tokens' must be a number, got 'many'",
        ),
    ],
)
def test_metric_preview_explains_bad_events(admin_client, events, error):
    metric = tokens_metric()
    response = admin_client.post(
        url("billablemetric_preview", metric.pk),
        {"events": events, "start": "2026-11-01 00:00", "end": "2026-12-01 00:00", "group_key": ""},
    )
    assert response.status_code == 200
    assert response.context["results"] is None
    assert error in " ".join(response.context["form"].errors["events"])


# --- products -----------------------------------------------------------------------------------------------


def test_product_rules_show_on_the_form_and_kind_is_fixed_after_creation(admin_client, catalog):
    post = {
        "code": "storage",
        "name": "Storage",
        "description": "",
        "kind": "usage",
        "metric": "",
        "billing_timing": "in_advance",
        "unit_label": "",
        "product_line": "",
    }
    response = admin_client.post(url("product_add"), post)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["metric"] == ["a usage product is priced from a metric: name one"]
    assert not Product.objects.filter(code="storage").exists()

    seat = catalog["seat"]
    response = admin_client.post(
        url("product_change", seat.pk),
        {
            "name": "Seat",
            "description": "",
            "unit_label": "seat",
            "product_line": "core",
            "is_active": "on",
            "kind": "one_time",
            "billing_timing": "in_arrears",
            "change_reason": "seats belong to core",
        },
    )
    assert response.status_code == 302
    seat.refresh_from_db()
    assert (seat.name, seat.product_line, seat.kind, seat.billing_timing) == (
        "Seat",
        "core",
        "subscription",
        "in_advance",
    )


# --- prices and tiers -----------------------------------------------------------------------------------------


def test_price_with_tiers_is_added_through_the_admin(admin_client, catalog):
    product = usage_product(
        metrics.metric_create(code="calls", name="Calls", event_type="api.request", aggregation="count", actor=None),
        code="api-calls",
    )
    v2 = catalog["v2"]
    response = admin_client.post(
        url("price_add"),
        {
            **price_form(tiers=[("0", "100", "0.5", "0"), ("100", "", "0.25", "10"), ("0", "", "0", "0")]),
            "version": v2.pk,
            "product": product.pk,
            "group_key": "",
            "group_value": "",
            "model": "graduated",
            "change_reason": "new API pricing",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    price = v2.prices.get(product=product)
    assert tiers_of(price) == [(D(0), D(100), D("0.5"), D(0)), (D(100), None, D("0.25"), D(10))]
    assert price.currency == "USD"
    assert price.history.get().history_change_reason == "new API pricing"


def test_price_tiers_are_replaced_together_with_the_price(admin_client, catalog, admin_user):
    price = catalog["draft_price"]
    response = admin_client.post(
        url("price_change", price.pk),
        price_form(
            price,
            tiers=[("0", "500", "0.12", "0"), ("500", "5000", "0.08", "0"), ("5000", "", "0.04", "0")],
            included_units="100",
            change_reason="volume discount",
        ),
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert price.included_units == D(100)
    assert tiers_of(price) == [
        (D(0), D(500), D("0.12"), D(0)),
        (D(500), D(5000), D("0.08"), D(0)),
        (D(5000), None, D("0.04"), D(0)),
    ]
    latest = price.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (admin_user, "volume discount")


@pytest.mark.parametrize(
    ("tiers", "values", "where", "message"),
    [
        (
            [("0", "1000", "0.10", "0"), ("1500", "", "0.05", "0")],
            {},
            ("tier", 1, "start"),
            "tier 2 starts at 1,500 but tier 1 ends at 1,000 (a gap)",
        ),
        (
            [("0", "1000", "0.10", "0"), ("800", "", "0.05", "0")],
            {},
            ("tier", 1, "start"),
            "tier 2 starts at 800 but tier 1 ends at 1,000 (an overlap)",
        ),
        (
            [("0", "1000", "-0.10", "0"), ("1000", "", "0.05", "0")],
            {},
            ("tier", 0, "unit_price"),
            "must not be negative, not -0.1",
        ),
        (
            [("0", "1000", "0.10", "0"), ("1000", "900", "0.05", "0")],
            {},
            ("tier", 1, "up_to"),
            "tier 2 ends at 900, not above its start 1,000",
        ),
        (
            [("0", "1000", "0.10", "0"), ("1000", "", "0.05", "0")],
            {"minimum_charge": "-5"},
            ("price", None, "minimum_charge"),
            "must not be negative, not -5",
        ),
        (
            [("0", "1000", "0.10", "0"), ("1000", "", "0.05", "0")],
            {"unit_price": "0.2"},
            ("price", None, "unit_price"),
            "unit_price does not apply to graduated prices",
        ),
        ([], {}, ("tiers", None, None), "graduated prices need at least one tier"),
    ],
)
def test_bad_price_or_tiers_show_the_error_and_change_nothing(admin_client, catalog, tiers, values, where, message):
    price = catalog["draft_price"]
    before = (tiers_of(price), price.history.count(), PriceTier.history.count())
    response = admin_client.post(url("price_change", price.pk), price_form(price, tiers=tiers, **values))
    assert response.status_code == 200
    kind, row, field = where
    if kind == "tier":
        tier_forms = response.context["inline_admin_formsets"][0].formset.forms
        assert message in tier_forms[row].errors[field]
    elif kind == "price":
        assert message in response.context["adminform"].form.errors[field]
    else:
        assert message in response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert "Nothing was saved" in text(response)
    price.refresh_from_db()
    assert (tiers_of(price), price.history.count(), PriceTier.history.count()) == before


def test_an_active_versions_price_cannot_be_changed(admin_client, catalog):
    price = catalog["active_price"]
    before = tiers_of(price)
    page = admin_client.get(url("price_change", price.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "can no longer change" in text(page)
    response = admin_client.post(url("price_change", price.pk), price_form(price, tiers=[("0", "", "0.01", "0")]))
    assert response.status_code == 403
    assert admin_client.post(url("price_delete", price.pk), {"post": "yes"}).status_code == 403
    price.refresh_from_db()
    assert tiers_of(price) == before


def test_an_active_version_takes_no_new_price(admin_client, catalog):
    response = admin_client.post(
        url("price_add"),
        {**price_form(tiers=[("0", "", "1", "0")]), "version": catalog["v1"].pk, "product": catalog["seat"].pk},
    )
    assert response.status_code == 200
    assert "version" in response.context["adminform"].form.errors
    assert catalog["v1"].prices.count() == 2


def test_a_draft_price_is_removed_through_the_service(admin_client, catalog):
    price = catalog["draft_price"]
    response = admin_client.post(url("price_delete", price.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Price.objects.filter(pk=price.pk).exists()
    assert price.history.latest().history_change_reason == "removed in the admin"


# --- versions -------------------------------------------------------------------------------------------------


def version_form(version: RateCardVersion, rows: list[dict], **values) -> dict:
    """The POST of a draft version's page with its prices inline."""
    existing = list(version.prices.order_by("product__code", "group_value"))
    data = {
        "effective_from": str(version.effective_from),
        "notes": version.notes,
        "change_reason": "test change",
        "prices-TOTAL_FORMS": str(len(rows)),
        "prices-INITIAL_FORMS": str(len(existing)),
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
        **values,
    }
    for index, row in enumerate(rows):
        prefix = f"prices-{index}-"
        if index < len(existing):
            data[prefix + "id"] = str(existing[index].pk)
            data[prefix + "version"] = str(version.pk)
        for name in (
            "product",
            "group_key",
            "group_value",
            "model",
            "flat_amount",
            "unit_price",
            "package_size",
            "package_price",
            "percentage",
            "included_units",
        ):
            data[prefix + name] = row.get(name, "")
    return data


def price_row(price: Price, **changes) -> dict:
    row = {
        "product": str(price.product_id),
        "group_key": price.group_key,
        "group_value": price.group_value,
        "model": price.model,
        "unit_price": "" if price.unit_price is None else str(price.unit_price),
        "included_units": str(price.included_units),
    }
    return {**row, **changes}


def test_draft_version_prices_are_edited_inline_through_the_services(admin_client, catalog):
    v2 = catalog["v2"]
    seat_price = v2.prices.get(product=catalog["seat"])
    tokens_price = catalog["draft_price"]
    rows = [price_row(tokens_price), price_row(seat_price, unit_price="45")]
    response = admin_client.post(
        url("ratecardversion_change", v2.pk), version_form(v2, rows, notes="seat rise", change_reason="2027 prices")
    )
    assert response.status_code == 302
    seat_price.refresh_from_db()
    v2.refresh_from_db()
    assert (seat_price.unit_price, v2.notes) == (D(45), "seat rise")
    assert seat_price.history.latest().history_change_reason == "2027 prices"
    assert len(tiers_of(tokens_price)) == 2  # the tiered price kept its tiers


def test_a_bad_inline_price_shows_on_its_row_and_changes_nothing(admin_client, catalog):
    v2 = catalog["v2"]
    seat_price = v2.prices.get(product=catalog["seat"])
    rows = [price_row(catalog["draft_price"]), price_row(seat_price, unit_price="-45")]
    response = admin_client.post(url("ratecardversion_change", v2.pk), version_form(v2, rows, notes="x"))
    assert response.status_code == 200
    row_errors = response.context["inline_admin_formsets"][0].formset.forms[1].errors
    assert row_errors["unit_price"] == ["must not be negative, not -45"]
    seat_price.refresh_from_db()
    v2.refresh_from_db()
    assert (seat_price.unit_price, v2.notes) == (D(40), "")


def test_an_active_version_is_read_only(admin_client, catalog):
    v1 = catalog["v1"]
    seat_price = v1.prices.get(product=catalog["seat"])
    rows = [price_row(catalog["active_price"]), price_row(seat_price, unit_price="1")]
    response = admin_client.post(url("ratecardversion_change", v1.pk), version_form(v1, rows, notes="x"))
    assert response.status_code == 403
    seat_price.refresh_from_db()
    assert seat_price.unit_price == D(40)


def test_activate_action_asks_first_then_activates_the_draft(admin_client, catalog, admin_user):
    v2 = catalog["v2"]
    changelist = url("ratecardversion_changelist")
    confirm = admin_client.post(changelist, {"action": "activate_versions", "_selected_action": [v2.pk], "index": 0})
    assert confirm.status_code == 200
    assert 'value="Yes, activate"' in confirm.content.decode()
    v2.refresh_from_db()
    assert v2.status == VersionStatus.DRAFT

    done = admin_client.post(
        changelist,
        {"action": "activate_versions", "_selected_action": [v2.pk], "confirm": "yes", "change_reason": "approved"},
    )
    assert done.status_code == 302
    # Activation needs another person's approval (issue 7): the action asks for it, the approval activates.
    assert any("standard v2: activation asked for" in m for m in messages_of(done))
    v2.refresh_from_db()
    assert v2.status == VersionStatus.DRAFT
    approve_latest(as_of=clock.now())
    v2.refresh_from_db()
    assert (v2.status, v2.activated_by) == (VersionStatus.ACTIVE, admin_user)
    assert v2.history.latest().history_change_reason.startswith("approved (request #")


def test_activating_an_empty_version_is_refused_with_a_message(admin_client, catalog):
    empty = rate_cards.rate_card_version_create(
        rate_card=catalog["card"], effective_from=dt.date(2027, 1, 1), copy_prices=False, actor=None
    )
    response = admin_client.post(
        url("ratecardversion_changelist"),
        {"action": "activate_versions", "_selected_action": [empty.pk], "confirm": "yes"},
    )
    assert response.status_code == 302
    assert any("a version needs at least one price before it can be activated" in m for m in messages_of(response))
    empty.refresh_from_db()
    assert empty.status == VersionStatus.DRAFT


def test_activate_button_on_the_draft_page(admin_client, catalog):
    v2 = catalog["v2"]
    page = admin_client.get(url("ratecardversion_activate", v2.pk))
    assert page.status_code == 200
    assert 'value="Yes, activate"' in page.content.decode()
    response = admin_client.post(url("ratecardversion_activate", v2.pk), {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == url("ratecardversion_change", v2.pk)
    v2.refresh_from_db()
    assert v2.status == VersionStatus.DRAFT  # asked for, not done: another person approves (issue 7)
    approve_latest(as_of=clock.now())
    v2.refresh_from_db()
    assert v2.status == VersionStatus.ACTIVE


def test_new_draft_action_copies_the_version(admin_client, catalog):
    v1 = catalog["v1"]
    response = admin_client.post(
        url("ratecardversion_changelist"),
        {
            "action": "new_draft_versions",
            "_selected_action": [v1.pk],
            "confirm": "yes",
            "effective_from": "2027-02-01",
            "notes": "2027",
            "change_reason": "test change",
        },
    )
    assert response.status_code == 302
    draft = RateCardVersion.objects.get(rate_card=catalog["card"], number=3)
    assert response["Location"] == url("ratecardversion_change", draft.pk)
    assert (draft.status, draft.based_on, draft.effective_from) == ("draft", v1, dt.date(2027, 2, 1))
    assert tiers_of(draft.prices.get(product=catalog["tokens"])) == tiers_of(catalog["active_price"])


def test_a_service_error_while_saving_comes_back_on_the_form(admin_client, catalog):
    other_card = rate_card(code="other", currency="EUR")
    response = admin_client.post(
        url("ratecardversion_add"),
        {
            "rate_card": other_card.pk,
            "effective_from": "2027-01-01",
            "based_on": catalog["v1"].pk,
            "copy_prices": "on",
            "notes": "",
            "change_reason": "test change",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["based_on"] == ["based_on must be a version of the same rate card"]
    assert not other_card.versions.exists()


def test_version_preview_bills_hand_worked_amounts(admin_client, catalog):
    v2 = catalog["v2"]
    calls = usage_product(
        metrics.metric_create(code="calls", name="Calls", event_type="api.request", aggregation="count", actor=None),
        code="api-calls",
    )
    rate_cards.price_set(
        version=v2,
        product=calls,
        values={"model": "package", "package_size": D(100), "package_price": D(25)},
        actor=None,
    )
    # tokens become dimensional: the graduated row is the default for any model, small has its own price
    rate_cards.price_set(
        version=v2,
        product=catalog["tokens"],
        values={"model": "graduated"},
        tiers=graduated_tiers(),
        group_key="model",
        replace=True,
        actor=None,
    )
    rate_cards.price_set(
        version=v2,
        product=catalog["tokens"],
        values=per_unit("0.002"),
        group_key="model",
        group_value="small",
        actor=None,
    )

    response = admin_client.post(
        url("ratecardversion_preview", v2.pk),
        {"quantity__seat": "3", "quantity__api-calls": "250", "groups__ai-tokens": "small = 1000\nlarge=1500\n"},
    )
    assert response.status_code == 200, response.context["form"].errors
    invoice = response.context["invoice"]
    lines = [(row["product"].code, row["group"], row["amount"]) for row in invoice["rows"]]
    # 250 calls in packages of 100, every started one: 3 x 25 = 75
    # tokens: small 1,000 x 0.002 = 2; large (default, graduated) 1,000 x 0.10 + 500 x 0.05 = 125
    # seats: 3 x 40 = 120
    assert lines == [
        ("ai-tokens", "large", "125.00 USD"),
        ("ai-tokens", "small", "2.00 USD"),
        ("api-calls", None, "75.00 USD"),
        ("seat", None, "120.00 USD"),
    ]
    assert invoice["total"] == "322.00 USD"
    large = invoice["rows"][0]["breakdown"]
    assert [(b["description"], b["quantity"], b["amount"]) for b in large] == [
        ("Tier 1: 1\u20131,000 units", "1,000", "100"),
        ("Tier 2: over 1,000 units", "500", "25"),
    ]
    assert "322.00 USD" in text(response)
    # Nothing is written, so the same preview is a link to share (the page's form uses GET).
    shared = admin_client.get(
        url("ratecardversion_preview", v2.pk),
        {"quantity__seat": "3", "quantity__api-calls": "250", "groups__ai-tokens": "small=1000\nlarge=1500"},
    )
    assert shared.context["invoice"]["total"] == "322.00 USD"


def test_version_preview_explains_bad_quantities(admin_client, catalog):
    v2 = catalog["v2"]
    response = admin_client.post(url("ratecardversion_preview", v2.pk), {"quantity__seat": "-1"})
    assert response.status_code == 200
    assert response.context["invoice"] is None
    assert "quantity__seat" in response.context["form"].errors


def test_version_preview_of_a_dimensional_price_without_a_default_names_the_unpriced_value(admin_client, catalog):
    v2 = catalog["v2"]
    rate_cards.price_delete(price=catalog["draft_price"], actor=None)
    rate_cards.price_set(
        version=v2,
        product=catalog["tokens"],
        values=per_unit("0.002"),
        group_key="model",
        group_value="small",
        actor=None,
    )
    response = admin_client.post(url("ratecardversion_preview", v2.pk), {"groups__ai-tokens": "huge=10"})
    assert response.status_code == 200
    assert response.context["invoice"] is None
    # The selector names no product for a rating error, so it shows above the form.
    assert response.context["form"].non_field_errors() == ["no price for model 'huge' and no default price"]


def test_a_draft_version_takes_new_prices_and_loses_removed_ones_inline(admin_client, catalog):
    v2 = catalog["v2"]
    fee = usage_product(
        metrics.metric_create(code="jobs", name="Jobs", event_type="job.done", aggregation="count", actor=None),
        code="jobs",
    )
    seat_price = v2.prices.get(product=catalog["seat"])
    rows = [
        price_row(catalog["draft_price"]),
        price_row(seat_price),
        {
            "product": str(fee.pk),
            "model": "package",
            "package_size": "5",
            "package_price": "150",
            "included_units": "0",
        },
    ]
    data = version_form(v2, rows)
    data["prices-1-DELETE"] = "on"
    response = admin_client.post(url("ratecardversion_change", v2.pk), data)
    assert response.status_code == 302
    assert sorted(v2.prices.values_list("product__code", flat=True)) == ["ai-tokens", "jobs"]
    jobs = v2.prices.get(product=fee)
    assert (jobs.model, jobs.package_size, jobs.package_price, jobs.currency) == ("package", D(5), D(150), "USD")


def test_prices_are_removed_in_bulk_through_the_service(admin_client, catalog):
    draft_prices = list(catalog["v2"].prices.values_list("pk", flat=True))
    response = admin_client.post(
        url("price_changelist"), {"action": "delete_selected", "_selected_action": draft_prices, "post": "yes"}
    )
    assert response.status_code == 302
    assert not catalog["v2"].prices.exists()
    assert catalog["v1"].prices.count() == 2


def test_rate_card_and_version_are_created_through_the_admin(admin_client, admin_user):
    bad = admin_client.post(url("ratecard_add"), {"code": "eu", "name": "Europe", "currency": "EUX", "description": ""})
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["currency"] == ["'EUX' is not a known ISO 4217 currency code"]

    created = admin_client.post(
        url("ratecard_add"),
        {"code": "eu", "name": "Europe", "currency": "eur", "description": "", "change_reason": "test change"},
    )
    assert created.status_code == 302
    card = RateCard.objects.get(code="eu")
    assert card.currency == "EUR"
    assert card.history.get().history_user == admin_user

    version = admin_client.post(
        url("ratecardversion_add"),
        {
            "rate_card": card.pk,
            "effective_from": "2027-01-01",
            "based_on": "",
            "copy_prices": "on",
            "notes": "first",
            "change_reason": "test change",
        },
    )
    assert version.status_code == 302
    v1 = card.versions.get()
    assert (v1.number, v1.status, v1.notes) == (1, "draft", "first")
    assert v1.history.get().history_change_reason == "test change"


def test_history_is_read_only(admin_client, catalog):
    price = catalog["draft_price"]
    record = price.history.latest()
    page = admin_client.get(reverse("admin:catalog_price_simple_history", args=[price.pk, record.history_id]))
    assert page.status_code == 200
    revert = admin_client.post(
        reverse("admin:catalog_price_simple_history", args=[price.pk, record.history_id]), {"model": "flat"}
    )
    assert revert.status_code == 403
    price.refresh_from_db()
    assert price.model == "graduated"
