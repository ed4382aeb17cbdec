"""Catalog API: create, read, list and change each resource; 404s; permissions; Idempotency-Key."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from catalog.models import BillableMetric, Price, Product, RateCard, RateCardVersion
from catalog.services import rate_cards
from revops import clock
from tests.catalog.factories import T0, graduated_tiers, per_unit, rate_card, seat_product, tokens_metric, usage_product
from tests.revops.approval_support import approve_latest

pytestmark = pytest.mark.django_db

TOKENS = {
    "code": "tokens",
    "name": "AI tokens",
    "event_type": "llm.completion",
    "aggregation": "sum",
    "property": "tokens",
    "filters": [{"property": "region", "operator": "in", "value": ["eu", "us"]}],
    "group_by": ["model"],
    "unit_label": "tokens",
}
SEAT = {"code": "seat", "name": "Platform seat", "kind": "subscription", "unit_label": "seat"}
STANDARD = {"code": "standard", "name": "Standard USD", "currency": "usd", "description": "list prices"}


def _counts():
    return (
        BillableMetric.objects.count(),
        Product.objects.count(),
        RateCard.objects.count(),
        RateCardVersion.objects.count(),
        Price.objects.count(),
    )


# --- metrics -----------------------------------------------------------------------------------------------


def test_metric_create_read_list_and_rename_with_history(write_client, service_user):
    created = write_client.post("/api/v1/metrics", TOKENS, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in TOKENS} == TOKENS
    assert body["time_unit"] == "" and body["description"] == ""

    assert write_client.get("/api/v1/metrics/tokens").json()["filters"] == TOKENS["filters"]
    listed = write_client.get("/api/v1/metrics").json()
    assert listed["count"] == 1 and [m["code"] for m in listed["results"]] == ["tokens"]

    renamed = write_client.patch("/api/v1/metrics/tokens", {"name": "LLM tokens", "reason": "clearer"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "LLM tokens"
    history = list(BillableMetric.objects.get(code="tokens").history.order_by("history_id"))
    assert [(h.name, h.history_change_reason, h.history_user) for h in history] == [
        ("AI tokens", "test change", service_user),  # the client's X-Change-Reason (tests/conftest.py)
        ("LLM tokens", "clearer", service_user),
    ]


def test_metric_create_keeps_the_given_reason(write_client):
    write_client.post("/api/v1/metrics", {**TOKENS, "reason": "AI launch"}, format="json")
    assert BillableMetric.objects.get().history.get().history_change_reason == "AI launch"


def test_metric_definition_can_change_until_an_active_price_uses_it(write_client):
    write_client.post("/api/v1/metrics", TOKENS, format="json")
    changed = write_client.patch(
        "/api/v1/metrics/tokens", {"property": "output_tokens", "reason": "bill output only"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["property"] == "output_tokens"

    metric = BillableMetric.objects.get(code="tokens")
    version = rate_cards.rate_card_version_create(rate_card=rate_card(), effective_from=T0.date(), actor=None)
    rate_cards.price_set(version=version, product=usage_product(metric), values=per_unit("0.00001"), actor=None)
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)

    frozen = write_client.patch("/api/v1/metrics/tokens", {"property": "tokens", "reason": "x"}, format="json")
    assert frozen.status_code == 409
    assert frozen.json()["error"]["code"] == "metric_in_use"
    assert BillableMetric.objects.get(code="tokens").property == "output_tokens"
    # Descriptive fields still change.
    described = write_client.patch(
        "/api/v1/metrics/tokens", {"unit_label": "output tokens", "reason": "clearer"}, format="json"
    )
    assert described.status_code == 200 and described.json()["unit_label"] == "output tokens"


def test_metric_update_needs_a_reason_and_refuses_the_code(write_client):
    write_client.post("/api/v1/metrics", TOKENS, format="json")
    no_reason = write_client.patch("/api/v1/metrics/tokens", {"name": "X"}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["error"]["fields"]
    code = write_client.patch("/api/v1/metrics/tokens", {"code": "other", "reason": "x"}, format="json")
    assert code.status_code == 400
    assert code.json()["error"]["fields"] == {"code": ["this field is not accepted here"]}
    assert BillableMetric.objects.get().name == "AI tokens"


# --- products ----------------------------------------------------------------------------------------------


def test_product_create_read_list_and_describe(write_client, service_user):
    write_client.post("/api/v1/metrics", TOKENS, format="json")
    usage = write_client.post(
        "/api/v1/products",
        {"code": "ai-tokens", "name": "AI tokens", "kind": "usage", "metric": "tokens"},
        format="json",
    )
    assert usage.status_code == 201, usage.json()
    # Usage bills in arrears by default and takes the metric's unit label.
    assert {k: usage.json()[k] for k in ("kind", "metric", "billing_timing", "unit_label", "is_active")} == {
        "kind": "usage",
        "metric": "tokens",
        "billing_timing": "in_arrears",
        "unit_label": "tokens",
        "is_active": True,
    }
    seat = write_client.post("/api/v1/products", SEAT, format="json")
    assert seat.status_code == 201
    assert seat.json()["metric"] is None and seat.json()["billing_timing"] == "in_advance"

    assert write_client.get("/api/v1/products/seat").json()["name"] == "Platform seat"
    listed = write_client.get("/api/v1/products").json()
    assert [p["code"] for p in listed["results"]] == ["ai-tokens", "seat"]

    changed = write_client.patch(
        "/api/v1/products/seat",
        {"name": "Seat", "product_line": "platform", "is_active": False, "reason": "retired"},
        format="json",
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["product_line"], changed.json()["is_active"]) == (
        "Seat",
        "platform",
        False,
    )
    last = Product.objects.get(code="seat").history.order_by("-history_id").first()
    assert (last.history_change_reason, last.history_user) == ("retired", service_user)


@pytest.mark.parametrize("field", ["kind", "metric", "billing_timing", "code"])
def test_product_update_refuses_fields_that_shape_invoices(write_client, field):
    write_client.post("/api/v1/products", SEAT, format="json")
    response = write_client.patch("/api/v1/products/seat", {field: "usage", "reason": "x"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert Product.objects.get().kind == "subscription"


# --- rate cards and versions -------------------------------------------------------------------------------


def test_rate_card_create_read_list(write_client):
    created = write_client.post("/api/v1/rate-cards", STANDARD, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["currency"] == "USD" and created.json()["versions"] == []
    write_client.post("/api/v1/rate-cards/standard/versions", {"effective_from": "2026-11-01"}, format="json")

    detail = write_client.get("/api/v1/rate-cards/standard").json()
    assert detail["versions"] == [
        {"number": 1, "status": "draft", "effective_from": "2026-11-01", "activated_at": None}
    ]
    listed = write_client.get("/api/v1/rate-cards").json()
    assert listed["count"] == 1 and listed["results"][0]["code"] == "standard"
    assert "versions" not in listed["results"][0]


def test_version_create_list_read_and_update(write_client, service_user):
    write_client.post("/api/v1/rate-cards", STANDARD, format="json")
    created = write_client.post(
        "/api/v1/rate-cards/standard/versions",
        {"effective_from": "2026-11-01", "notes": "launch", "reason": "launch pricing"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert {k: created.json()[k] for k in ("rate_card", "number", "status", "notes", "based_on", "prices")} == {
        "rate_card": "standard",
        "number": 1,
        "status": "draft",
        "notes": "launch",
        "based_on": None,
        "prices": [],
    }
    write_client.post(
        "/api/v1/rate-cards/standard/versions", {"effective_from": "2027-01-01", "copy_prices": False}, format="json"
    )
    listed = write_client.get("/api/v1/rate-cards/standard/versions").json()
    assert [(v["number"], v["effective_from"], v["based_on"]) for v in listed["results"]] == [
        (1, "2026-11-01", None),
        (2, "2027-01-01", None),
    ]

    changed = write_client.patch(
        "/api/v1/rate-cards/standard/versions/2",
        {"effective_from": "2027-02-01", "notes": "later", "reason": "launch slipped"},
        format="json",
    )
    assert changed.status_code == 200
    assert (changed.json()["effective_from"], changed.json()["notes"]) == ("2027-02-01", "later")
    history = RateCardVersion.objects.get(number=2).history.order_by("-history_id").first()
    assert (history.history_change_reason, history.history_user) == ("launch slipped", service_user)
    assert (
        write_client.patch("/api/v1/rate-cards/standard/versions/2", {"notes": "x"}, format="json").status_code == 400
    )


def test_version_detail_shows_prices_with_tiers(write_client):
    card = rate_card()
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=T0.date(), actor=None)
    price = rate_cards.price_set(
        version=version,
        product=usage_product(tokens_metric()),
        values={"model": "graduated", "minimum_charge": 10},
        tiers=graduated_tiers(),
        actor=None,
    )
    detail = write_client.get("/api/v1/rate-cards/standard/versions/1").json()
    assert detail["currency"] == "USD"
    assert detail["prices"] == [
        {
            "id": price.pk,
            "product": "ai-tokens",
            "group_key": "",
            "group_value": "",
            "model": "graduated",
            "currency": "USD",
            "flat_amount": None,
            "unit_price": None,
            "package_size": None,
            "package_price": None,
            "package_rounding": "up",
            "percentage": None,
            "fixed_fee_per_event": None,
            "min_per_event": None,
            "max_per_event": None,
            "included_units": "0",
            "minimum_charge": "10",
            "maximum_charge": None,
            "rounding": "half_up",
            "tiers": [
                {"start": "0", "up_to": "1000", "unit_price": "0.1", "flat_fee": "0"},
                {"start": "1000", "up_to": None, "unit_price": "0.05", "flat_fee": "0"},
            ],
        }
    ]


def test_version_can_be_based_on_an_older_version_or_start_empty(write_client):
    card = rate_card()
    v1 = rate_cards.rate_card_version_create(rate_card=card, effective_from=T0.date(), actor=None)
    rate_cards.price_set(version=v1, product=seat_product(), values=per_unit("30"), actor=None)
    rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    rate_cards.price_delete(price=Price.objects.get(version__number=2), actor=None)

    from_v1 = write_client.post(
        "/api/v1/rate-cards/standard/versions", {"effective_from": "2027-02-01", "based_on": 1}, format="json"
    )
    assert from_v1.json()["based_on"] == 1
    assert [(p["product"], p["unit_price"]) for p in from_v1.json()["prices"]] == [("seat", "30")]
    # The default copies the latest version (v3 here); copy_prices=false starts empty.
    latest = write_client.post("/api/v1/rate-cards/standard/versions", {"effective_from": "2027-03-01"}, format="json")
    assert latest.json()["based_on"] == 3 and len(latest.json()["prices"]) == 1
    empty = write_client.post(
        "/api/v1/rate-cards/standard/versions", {"effective_from": "2027-04-01", "copy_prices": False}, format="json"
    )
    assert empty.json()["based_on"] is None and empty.json()["prices"] == []


def test_price_add_replace_and_delete_on_a_draft(write_client, service_user):
    rate_cards.rate_card_version_create(rate_card=rate_card(), effective_from=T0.date(), actor=None)
    seat_product()
    added = write_client.post(
        "/api/v1/rate-cards/standard/versions/1/prices",
        {"product": "seat", "model": "per_unit", "unit_price": "30", "reason": "list price"},
        format="json",
    )
    assert added.status_code == 201, added.json()
    price_id = added.json()["id"]
    url = f"/api/v1/rate-cards/standard/versions/1/prices/{price_id}"

    replaced = write_client.put(
        url, {"model": "flat", "flat_amount": "250.50", "reason": "seats become a platform fee"}, format="json"
    )
    assert replaced.status_code == 200, replaced.json()
    assert (replaced.json()["id"], replaced.json()["model"]) == (price_id, "flat")
    assert (replaced.json()["flat_amount"], replaced.json()["unit_price"]) == ("250.5", None)
    assert write_client.put(url, {"model": "flat", "flat_amount": "1"}, format="json").status_code == 400

    assert write_client.delete(f"{url}?reason=not+sold+any+more").status_code == 204
    assert not Price.objects.exists()
    history = list(Price.history.order_by("history_id"))
    assert [(h.history_type, h.history_change_reason, h.history_user) for h in history] == [
        ("+", "list price", service_user),
        ("~", "seats become a platform fee", service_user),
        ("-", "not sold any more", service_user),
    ]


# --- not found ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("get", "/api/v1/metrics/nope", "metric_not_found"),
        ("post", "/api/v1/metrics/nope/preview", "metric_not_found"),
        ("get", "/api/v1/products/nope", "product_not_found"),
        ("get", "/api/v1/rate-cards/nope", "rate_card_not_found"),
        ("get", "/api/v1/rate-cards/nope/versions", "rate_card_not_found"),
        ("get", "/api/v1/rate-cards/standard/versions/9", "version_not_found"),
        ("post", "/api/v1/rate-cards/standard/versions/9/activate", "version_not_found"),
        ("delete", "/api/v1/rate-cards/standard/versions/1/prices/999999", "price_not_found"),
    ],
)
def test_unknown_things_are_404(write_client, method, path, code):
    rate_cards.rate_card_version_create(rate_card=rate_card(), effective_from=T0.date(), actor=None)
    response = getattr(write_client, method)(path, {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == code


def test_a_price_of_another_version_is_not_found(write_client):
    card = rate_card()
    v1 = rate_cards.rate_card_version_create(rate_card=card, effective_from=T0.date(), actor=None)
    price = rate_cards.price_set(version=v1, product=seat_product(), values=per_unit("30"), actor=None)
    rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    response = write_client.delete(f"/api/v1/rate-cards/standard/versions/2/prices/{price.pk}")
    assert response.status_code == 404
    assert Price.objects.filter(pk=price.pk).exists()


# --- Idempotency-Key ---------------------------------------------------------------------------------------


def test_version_create_replays_for_the_same_idempotency_key(write_client):
    write_client.post("/api/v1/rate-cards", STANDARD, format="json")
    body = {"effective_from": "2026-11-01", "notes": "launch"}
    first = write_client.post("/api/v1/rate-cards/standard/versions", body, format="json", HTTP_IDEMPOTENCY_KEY="v-1")
    again = write_client.post("/api/v1/rate-cards/standard/versions", body, format="json", HTTP_IDEMPOTENCY_KEY="v-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert RateCardVersion.objects.count() == 1

    reused = write_client.post(
        "/api/v1/rate-cards/standard/versions",
        {**body, "notes": "other"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="v-1",
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    fresh = write_client.post("/api/v1/rate-cards/standard/versions", body, format="json", HTTP_IDEMPOTENCY_KEY="v-2")
    assert fresh.status_code == 201 and fresh.json()["number"] == 2
    assert RateCardVersion.objects.count() == 2


# --- permissions -------------------------------------------------------------------------------------------

READS = [
    "/api/v1/metrics",
    "/api/v1/metrics/tokens",
    "/api/v1/products",
    "/api/v1/products/ai-tokens",
    "/api/v1/rate-cards",
    "/api/v1/rate-cards/standard",
    "/api/v1/rate-cards/standard/versions",
    "/api/v1/rate-cards/standard/versions/1",
]


def _writes(price_id: int) -> list[tuple[str, str, dict]]:
    version = "/api/v1/rate-cards/standard/versions/1"
    return [
        ("post", "/api/v1/metrics", {**TOKENS, "code": "tokens-2"}),
        ("patch", "/api/v1/metrics/tokens", {"name": "X", "reason": "x"}),
        ("post", "/api/v1/products", SEAT),
        ("patch", "/api/v1/products/ai-tokens", {"name": "X", "reason": "x"}),
        ("post", "/api/v1/rate-cards", {**STANDARD, "code": "other"}),
        ("post", "/api/v1/rate-cards/standard/versions", {"effective_from": "2027-01-01"}),
        ("patch", version, {"notes": "x", "reason": "x"}),
        ("post", f"{version}/prices", {"product": "seat", "model": "flat", "flat_amount": "1"}),
        ("put", f"{version}/prices/{price_id}", {"model": "per_unit", "unit_price": "9", "reason": "x"}),
        ("delete", f"{version}/prices/{price_id}", {}),
        ("post", f"{version}/activate", {}),
    ]


@pytest.fixture
def catalog():
    """A metric, a usage product and a rate card with a draft version pricing it."""
    version = rate_cards.rate_card_version_create(rate_card=rate_card(), effective_from=T0.date(), actor=None)
    return rate_cards.price_set(
        version=version, product=usage_product(tokens_metric()), values=per_unit("0.00001"), actor=None
    )


def _snapshot():
    names = [(m.code, m.name) for m in BillableMetric.objects.all()] + [(p.code, p.name) for p in Product.objects.all()]
    versions = [(v.number, v.status, v.notes) for v in RateCardVersion.objects.all()]
    prices = [(p.model, p.unit_price) for p in Price.objects.all()]
    return _counts(), names, versions, prices


@pytest.mark.parametrize("path", READS)
def test_anonymous_is_401(anon_client, catalog, path):
    assert anon_client.get(path).status_code == 401


def test_anonymous_cannot_write(anon_client, catalog):
    before = _snapshot()
    for method, path, body in _writes(catalog.pk):
        assert getattr(anon_client, method)(path, body, format="json").status_code == 401, path
    assert _snapshot() == before


@pytest.mark.parametrize("path", READS)
def test_read_key_can_read(read_client, catalog, path):
    assert read_client.get(path).status_code == 200


def test_read_key_cannot_write_and_changes_nothing(read_client, catalog):
    before = _snapshot()
    for method, path, body in _writes(catalog.pk):
        response = getattr(read_client, method)(path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"
    assert _snapshot() == before


def test_read_key_can_preview_since_previews_store_nothing(read_client, catalog):
    preview = read_client.post(
        "/api/v1/rate-cards/standard/versions/1/preview", {"usage": {"ai-tokens": "100000"}}, format="json"
    )
    assert preview.status_code == 200 and preview.json()["total"] == "1.00"
    metric = read_client.post(
        "/api/v1/metrics/tokens/preview",
        {"events": [], "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
        format="json",
    )
    assert metric.status_code == 200 and metric.json()["groups"] == []


@pytest.mark.parametrize("path", READS)
def test_ingest_key_cannot_read_the_catalog(ingest_client, catalog, path):
    assert ingest_client.get(path).status_code == 403


def test_ingest_key_cannot_preview_or_write(ingest_client, catalog):
    before = _snapshot()
    preview = ingest_client.post(
        "/api/v1/rate-cards/standard/versions/1/preview", {"usage": {"ai-tokens": "1"}}, format="json"
    )
    assert preview.status_code == 403
    for method, path, body in _writes(catalog.pk):
        assert getattr(ingest_client, method)(path, body, format="json").status_code == 403, path
    assert _snapshot() == before


def test_write_key_can_do_every_write(write_client, catalog):
    expected = [201, 200, 201, 200, 201, 201, 200, 201, 200, 204, 202]
    got = [getattr(write_client, m)(path, body, format="json").status_code for m, path, body in _writes(catalog.pk)]
    assert got == expected
    # The last write asked for v1's activation (202); another person's approval activates it (issue 7),
    # with the seat price it gained (the ai-tokens one was deleted).
    assert RateCardVersion.objects.get(number=1).status == "draft"
    approve_latest(as_of=clock.now())
    assert RateCardVersion.objects.get(number=1).status == "active"


def test_staff_session_can_read_and_write(staff_client, staff_user, catalog):
    assert staff_client.get("/api/v1/metrics/tokens").status_code == 200
    created = staff_client.post("/api/v1/rate-cards", {**STANDARD, "code": "staff"}, format="json")
    assert created.status_code == 201
    assert RateCard.objects.get(code="staff").history.get().history_user == staff_user


def test_non_staff_session_is_refused(catalog):
    client = APIClient()
    client.force_login(get_user_model().objects.create_user(username="portal-user"))
    assert client.get("/api/v1/metrics").status_code == 403
    assert client.post("/api/v1/rate-cards", STANDARD, format="json").status_code == 403
