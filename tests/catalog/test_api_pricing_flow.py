"""A whole pricing flow through the API only: metrics, products, a rate card priced with every model,
a preview with amounts worked out by hand, activation, refused changes, and a new version."""

import datetime as dt

import pytest

from catalog.models import Price, PriceTier, RateCardVersion
from revops import clock
from tests.revops.approval_support import approve_latest

pytestmark = pytest.mark.django_db

API = "/api/v1"
V1 = f"{API}/rate-cards/standard/versions/1"
V2 = f"{API}/rate-cards/standard/versions/2"
ACTIVATED_AT = dt.datetime(2026, 10, 20, 12, 0, tzinfo=dt.UTC)

METRICS = [
    {"code": "tokens", "name": "AI tokens", "event_type": "llm.completion", "aggregation": "sum",
     "property": "tokens", "group_by": ["model"], "unit_label": "tokens"},
    {"code": "storage", "name": "Storage", "event_type": "storage.level", "aggregation": "time_weighted_sum",
     "property": "gb", "time_unit": "hour", "unit_label": "GB-hours"},
    {"code": "compute", "name": "Compute", "event_type": "job.finished", "aggregation": "sum",
     "property": "minutes", "unit_label": "minutes"},
    {"code": "emails", "name": "Emails", "event_type": "email.sent", "aggregation": "count"},
    {"code": "payments", "name": "Payment volume", "event_type": "payment.captured", "aggregation": "sum",
     "property": "amount"},
]  # fmt: skip
PRODUCTS = [
    {"code": "ai-tokens", "name": "AI tokens", "kind": "usage", "metric": "tokens"},
    {"code": "storage", "name": "Storage", "kind": "usage", "metric": "storage"},
    {"code": "compute", "name": "Compute", "kind": "usage", "metric": "compute"},
    {"code": "emails", "name": "Emails", "kind": "usage", "metric": "emails"},
    {"code": "payments", "name": "Payments", "kind": "usage", "metric": "payments"},
    {"code": "seat", "name": "Seat", "kind": "subscription", "unit_label": "seat"},
    {"code": "platform", "name": "Platform fee", "kind": "recurring_fee"},
]
PRICES = [
    # flat
    {"product": "platform", "model": "flat", "flat_amount": "500.00"},
    # per unit, with included units and a minimum charge
    {"product": "seat", "model": "per_unit", "unit_price": "30", "included_units": "2", "minimum_charge": "100"},
    # graduated, with a flat fee per tier reached
    {"product": "storage", "model": "graduated", "tiers": [
        {"start": "0", "up_to": "1000", "unit_price": "0.10", "flat_fee": "5"},
        {"start": "1000", "up_to": None, "unit_price": "0.05", "flat_fee": "20"},
    ]},
    # volume, with a tier flat fee and a maximum charge
    {"product": "compute", "model": "volume", "maximum_charge": "200", "tiers": [
        {"start": "0", "up_to": "100", "unit_price": "0.50"},
        {"start": "100", "up_to": "1000", "unit_price": "0.40", "flat_fee": "10"},
        {"start": "1000", "unit_price": "0.30"},
    ]},
    # package, every started block
    {"product": "emails", "model": "package", "package_size": "1000", "package_price": "2.50"},
    # percentage with a fixed fee and per-event clamps
    {"product": "payments", "model": "percentage", "percentage": "2.9", "fixed_fee_per_event": "0.30",
     "min_per_event": "0.50", "max_per_event": "10"},
    # dimensional: a price per model, and a default for the other models
    {"product": "ai-tokens", "group_key": "model", "group_value": "small", "model": "per_unit",
     "unit_price": "0.000002"},
    {"product": "ai-tokens", "group_key": "model", "group_value": "large", "model": "per_unit",
     "unit_price": "0.00001"},
    {"product": "ai-tokens", "group_key": "model", "group_value": "", "model": "per_unit",
     "unit_price": "0.000005"},
]  # fmt: skip

# Hand-worked: seats 5 -> 2 included, 3 x 30 = 90, raised to the 100 minimum.
SEAT_V1 = {
    "product": "seat", "group": None, "model": "per_unit", "quantity": "5", "included_quantity": "2",
    "billable_quantity": "3", "unit_price": "30", "amount": "100", "rounded_amount": "100.00", "currency": "USD",
    "breakdown": [
        {"description": "Included units (no charge)", "quantity": "2", "unit_price": "0", "flat_fee": "0",
         "amount": "0", "tier": None},
        {"description": "Per unit", "quantity": "3", "unit_price": "30", "flat_fee": "0", "amount": "90",
         "tier": None},
        {"description": "Minimum charge 100 (usage came to 90)", "quantity": "1", "unit_price": "10",
         "flat_fee": "0", "amount": "10", "tier": None},
    ],
}  # fmt: skip


def _line(product, model, quantity, unit_price, amount, rounded, breakdown, group=None):
    return {
        "product": product, "group": group, "model": model, "quantity": quantity, "included_quantity": "0",
        "billable_quantity": quantity, "unit_price": unit_price, "amount": amount, "rounded_amount": rounded,
        "currency": "USD", "breakdown": breakdown,
    }  # fmt: skip


def _item(description, quantity, unit_price, amount, flat_fee="0", tier=None):
    return {
        "description": description, "quantity": quantity, "unit_price": unit_price, "flat_fee": flat_fee,
        "amount": amount, "tier": tier,
    }  # fmt: skip


def _ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def test_price_everything_preview_activate_and_change_in_a_new_version(write_client):
    for metric in METRICS:
        _ok(write_client.post(f"{API}/metrics", metric, format="json"), 201)
    for product in PRODUCTS:
        _ok(write_client.post(f"{API}/products", product, format="json"), 201)
    _ok(
        write_client.post(
            f"{API}/rate-cards", {"code": "standard", "name": "Standard", "currency": "USD"}, format="json"
        ),
        201,
    )
    draft = _ok(
        write_client.post(f"{API}/rate-cards/standard/versions", {"effective_from": "2026-11-01"}, format="json"), 201
    )
    assert (draft["number"], draft["status"], draft["prices"]) == (1, "draft", [])
    price_ids = {}
    for price in PRICES:
        added = _ok(write_client.post(f"{V1}/prices", price, format="json"), 201)
        price_ids[(price["product"], price.get("group_value", ""))] = added["id"]

    # Stored as given: omitted fields are null (not 0), included units default to 0, tiers in order.
    stored = {(p["product"], p["group_value"]): p for p in _ok(write_client.get(V1))["prices"]}
    assert len(stored) == 9
    assert stored[("payments", "")]["percentage"] == "2.9"
    assert stored[("payments", "")]["included_units"] == "0"
    assert stored[("payments", "")]["minimum_charge"] is None
    assert stored[("storage", "")]["tiers"] == [
        {"start": "0", "up_to": "1000", "unit_price": "0.1", "flat_fee": "5"},
        {"start": "1000", "up_to": None, "unit_price": "0.05", "flat_fee": "20"},
    ]
    assert stored[("compute", "")]["tiers"][2] == {"start": "1000", "up_to": None, "unit_price": "0.3", "flat_fee": "0"}

    # The storage quantity comes from the metric: 1,000 GB for an hour, then 500.5 GB for an hour.
    storage = _ok(
        write_client.post(
            f"{API}/metrics/storage/preview",
            {
                "events": [
                    {"event_type": "storage.level", "timestamp": "2026-11-01T00:00:00Z", "properties": {"gb": 1000}},
                    {"event_type": "storage.level", "timestamp": "2026-11-01T01:00:00Z", "properties": {"gb": "500.5"}},
                ],
                "start": "2026-11-01T00:00:00Z",
                "end": "2026-11-01T02:00:00Z",
            },
            format="json",
        )
    )
    assert storage["groups"] == [{"group": "", "quantity": "1500.5", "event_count": 2}]

    usage = {
        "seat": "5",
        "storage": storage["groups"][0]["quantity"],
        "compute": "600",
        "emails": "2500",
        "payments": ["5.00", "10.00", "100.00", "1000.00"],
        "ai-tokens": {"small": "1234567", "large": "100000", "medium": "200000"},
    }
    preview = _ok(write_client.post(f"{V1}/preview", {"usage": usage}, format="json"))
    assert (preview["rate_card"], preview["version"], preview["currency"]) == ("standard", 1, "USD")
    lines = {(line["product"], line["group"]): line for line in preview["lines"]}
    assert [(line["product"], line["group"]) for line in preview["lines"]] == [
        ("ai-tokens", "large"),
        ("ai-tokens", "medium"),
        ("ai-tokens", "small"),
        ("compute", None),
        ("emails", None),
        ("payments", None),
        ("platform", None),
        ("seat", None),
        ("storage", None),
    ]
    # Dimensional: 100,000 x 0.00001 = 1; "medium" has no price of its own: 200,000 x 0.000005 (default) = 1;
    # 1,234,567 x 0.000002 = 2.469134, rounded half-up to 2.47.
    assert lines["ai-tokens", "large"] == _line(
        "ai-tokens", "per_unit", "100000", "0.00001", "1", "1.00",
        [_item("Per unit", "100000", "0.00001", "1")], group="large",
    )  # fmt: skip
    assert lines["ai-tokens", "medium"]["unit_price"] == "0.000005"
    assert lines["ai-tokens", "medium"]["rounded_amount"] == "1.00"
    assert (lines["ai-tokens", "small"]["amount"], lines["ai-tokens", "small"]["rounded_amount"]) == (
        "2.469134",
        "2.47",
    )
    # Volume: 600 minutes reach tier 2, all at 0.40 plus its 10 fee = 250, capped at the 200 maximum.
    assert lines["compute", None] == _line(
        "compute", "volume", "600", "0.4", "200", "200.00",
        [
            _item("Tier 2: 101\u20131,000 units, price applied to all units", "600", "0.4", "250", "10", 2),
            _item("Maximum charge 200 (usage came to 250)", "1", "-50", "-50"),
        ],
    )  # fmt: skip
    # Package: 2,500 emails are 3 started blocks of 1,000 at 2.50 = 7.50.
    assert lines["emails", None] == _line(
        "emails", "package", "2500", "2.5", "7.5", "7.50",
        [_item("Packages of 1,000 units (every started package)", "3", "2.5", "7.5")],
    )  # fmt: skip
    # Percentage, per event: 5 -> 0.145 + 0.30 = 0.445, raised to 0.50; 10 -> 0.59; 100 -> 3.20;
    # 1,000 -> 29.30, capped at 10. Sum 14.29 = 1,115 x 2.9% (32.335) + 4 x 0.30 + 0.055 - 19.30.
    assert lines["payments", None] == _line(
        "payments", "percentage", "1115", "0.029", "14.29", "14.29",
        [
            _item("2.9% of volume", "1115", "0.029", "32.335"),
            _item("Fixed fee per event", "4", "0.3", "1.2"),
            _item("Minimum per event 0.5 (1 event raised)", "1", "0.055", "0.055"),
            _item("Maximum per event 10 (1 event capped)", "1", "-19.3", "-19.3"),
        ],
    )  # fmt: skip
    # Flat: billed with no usage given.
    assert lines["platform", None] == _line(
        "platform", "flat", "0", "500", "500", "500.00", [_item("Flat fee per period", "1", "500", "500")]
    )
    assert lines["seat", None] == SEAT_V1
    # Graduated: 1,000 x 0.10 + 5 = 105, then 500.5 x 0.05 + 20 = 45.025; 150.025 rounds half-up to 150.03.
    # The unit price is the average, 150.025 / 1,500.5, to 12 places.
    assert lines["storage", None] == _line(
        "storage", "graduated", "1500.5", "0.099983338887", "150.025", "150.03",
        [
            _item("Tier 1: 1\u20131,000 units", "1000", "0.1", "105", "5", 1),
            _item("Tier 2: over 1,000 units", "500.5", "0.05", "45.025", "20", 2),
        ],
    )  # fmt: skip
    # 1.00 + 1.00 + 2.47 + 200.00 + 7.50 + 14.29 + 500.00 + 100.00 + 150.03
    assert preview["total"] == "976.29"

    with clock.frozen_at(ACTIVATED_AT):
        asked = _ok(write_client.post(f"{V1}/activate", {"reason": "launch"}, format="json"), 202)
    assert asked["status"] == "pending"  # activation needs another person's approval (issue 7)
    approve_latest(as_of=ACTIVATED_AT)
    active = _ok(write_client.get(V1))
    assert (active["status"], active["activated_at"], active["activated_by"]) == (
        "active",
        "2026-10-20T12:00:00Z",
        "svc-product",
    )
    reason = RateCardVersion.objects.get(number=1).history.order_by("-history_id").first().history_change_reason
    assert reason == f"launch (request #{asked['id']}, approved by checker)"

    # An active version is frozen: every change is a 409 and changes nothing.
    before = (Price.objects.count(), PriceTier.objects.count(), list(Price.objects.values_list("unit_price")))
    seat_url = f"{V1}/prices/{price_ids['seat', '']}"
    refused = [
        write_client.post(f"{V1}/prices", {"product": "ai-tokens", "group_key": "model", "group_value": "xl",
                                           "model": "per_unit", "unit_price": "1"}, format="json"),
        write_client.put(seat_url, {"model": "per_unit", "unit_price": "25", "reason": "discount"}, format="json"),
        write_client.delete(seat_url),
        write_client.patch(V1, {"notes": "x", "reason": "x"}, format="json"),
        write_client.post(f"{V1}/activate", {}, format="json"),
    ]  # fmt: skip
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(409, "version_not_draft")] * 5
    assert (Price.objects.count(), PriceTier.objects.count(), list(Price.objects.values_list("unit_price"))) == before
    # And its metrics' definitions are frozen too.
    frozen = write_client.patch(f"{API}/metrics/compute", {"property": "seconds", "reason": "x"}, format="json")
    assert (frozen.status_code, frozen.json()["error"]["code"]) == (409, "metric_in_use")

    # A change is a new version: a copy of v1, changed, then activated.
    draft = _ok(
        write_client.post(
            f"{API}/rate-cards/standard/versions", {"effective_from": "2027-01-01", "notes": "2027"}, format="json"
        ),
        201,
    )
    assert (draft["number"], draft["based_on"], draft["status"], len(draft["prices"])) == (2, 1, "draft", 9)
    copied = {(p["product"], p["group_value"]): p for p in draft["prices"]}
    assert copied["storage", ""]["tiers"] == stored["storage", ""]["tiers"]
    seat_v2 = copied["seat", ""]["id"]
    assert seat_v2 != price_ids["seat", ""]
    changed = _ok(
        write_client.put(
            f"{V2}/prices/{seat_v2}",
            {"model": "per_unit", "unit_price": "28", "included_units": "2", "reason": "2027 seat price"},
            format="json",
        )
    )
    assert (changed["unit_price"], changed["included_units"], changed["minimum_charge"]) == ("28", "2", None)
    assert write_client.delete(f"{V2}/prices/{copied['emails', '']['id']}").status_code == 204
    with clock.frozen_at(ACTIVATED_AT):
        asked = _ok(write_client.post(f"{V2}/activate", {}, format="json"), 202)
    # The request shows what changes against v1: seats 30 -> 28 (-6.67%, within the guardrail) and no minimum
    # any more, emails gone.
    seat_rows = [row for row in asked["diff"] if row["item"] == "seat"]
    assert [(r["field"], r["before"], r["after"], r["change_percent"]) for r in seat_rows] == [
        ("unit_price", "30", "28", "-6.67"),
        ("minimum_charge", "100", None, "-6.67"),
    ]
    assert asked["approvers_required"] == 1
    assert {row["item"] for row in asked["diff"]} == {"seat", "emails"}
    approve_latest(as_of=ACTIVATED_AT)
    assert _ok(write_client.get(V2))["status"] == "active"

    # v1 still bills as it did; v2 bills 3 x 28 = 84 with no minimum, and no longer prices emails.
    # (The selector cannot yet bill a left-out dimensional or per-event-clamped price at zero, so both are
    # given as empty: no groups, no events.)
    seats = {"usage": {"seat": "5", "ai-tokens": {}, "payments": []}}
    v1_seats = _ok(write_client.post(f"{V1}/preview", seats, format="json"))
    assert {line["product"]: line["rounded_amount"] for line in v1_seats["lines"]}["seat"] == "100.00"
    v2_seats = _ok(write_client.post(f"{V2}/preview", seats, format="json"))
    v2_lines = {line["product"]: line for line in v2_seats["lines"]}
    assert v2_lines["seat"]["rounded_amount"] == "84.00"
    assert v2_lines["seat"]["breakdown"][-1] == _item("Per unit", "3", "28", "84")
    assert "emails" not in v2_lines
    # Platform 500 + seats 84; the usage products bill nothing at zero usage.
    assert v2_seats["total"] == "584.00"
    emails = write_client.post(f"{V2}/preview", {"usage": {"emails": "1"}}, format="json")
    assert (emails.status_code, emails.json()["error"]["code"]) == (400, "unpriced_product")

    card = _ok(write_client.get(f"{API}/rate-cards/standard"))
    assert card["versions"] == [
        {"number": 1, "status": "active", "effective_from": "2026-11-01", "activated_at": "2026-10-20T12:00:00Z"},
        {"number": 2, "status": "active", "effective_from": "2027-01-01", "activated_at": "2026-10-20T12:00:00Z"},
    ]
