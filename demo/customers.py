"""Demo customers of Lumora AI, a company selling seats, API tokens and storage for its AI platform."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from contracts import services
from contracts.models import Customer

# external_id, name, currency, timezone, billing city — a mix of sizes, regions and currencies.
CUSTOMERS = [
    ("acme-robotics", "Acme Robotics Inc.", "USD", "America/Los_Angeles", "San Jose, CA"),
    ("bluepeak-health", "BluePeak Health", "USD", "America/New_York", "Boston, MA"),
    ("cobalt-legal", "Cobalt Legal LLP", "USD", "America/Chicago", "Chicago, IL"),
    ("driftwood-media", "Driftwood Media", "USD", "America/Denver", "Denver, CO"),
    ("evergreen-bank", "Evergreen Bank", "USD", "America/New_York", "Charlotte, NC"),
    ("fjord-analytics", "Fjord Analytics AS", "EUR", "Europe/Oslo", "Oslo, Norway"),
    ("granite-insure", "Granite Insurance Group", "USD", "America/New_York", "Hartford, CT"),
    ("helix-bio", "Helix Biosciences", "USD", "America/Los_Angeles", "San Diego, CA"),
    ("ionic-games", "Ionic Games GmbH", "EUR", "Europe/Berlin", "Berlin, Germany"),
    ("juniper-retail", "Juniper Retail Ltd", "GBP", "Europe/London", "Manchester, UK"),
    ("kestrel-logistics", "Kestrel Logistics", "USD", "America/Chicago", "Dallas, TX"),
    ("lumen-edu", "Lumen Education", "USD", "America/Los_Angeles", "Portland, OR"),
    ("meridian-travel", "Meridian Travel SA", "EUR", "Europe/Paris", "Lyon, France"),
    ("nimbus-devtools", "Nimbus Devtools", "USD", "UTC", "Remote"),
    ("orchid-fashion", "Orchid Fashion KK", "JPY", "Asia/Tokyo", "Tokyo, Japan"),
    ("pinnacle-energy", "Pinnacle Energy", "USD", "America/Denver", "Houston, TX"),
    ("quartz-security", "Quartz Security", "USD", "America/New_York", "New York, NY"),
    ("redwood-realty", "Redwood Realty", "USD", "America/Los_Angeles", "Sacramento, CA"),
    ("saffron-foods", "Saffron Foods Ltd", "GBP", "Europe/London", "London, UK"),
    ("tidal-telecom", "Tidal Telecom BV", "EUR", "Europe/Amsterdam", "Rotterdam, Netherlands"),
    ("umbra-studios", "Umbra Studios", "USD", "America/Los_Angeles", "Los Angeles, CA"),
    ("vertex-manufacturing", "Vertex Manufacturing", "USD", "America/Detroit", "Detroit, MI"),
    ("willow-wellness", "Willow Wellness", "USD", "America/Phoenix", "Phoenix, AZ"),
    ("zephyr-airlines", "Zephyr Airlines", "USD", "America/New_York", "Atlanta, GA"),
]


def load_customers(*, actor: AbstractBaseUser | None) -> list[Customer]:
    customers = []
    for external_id, name, currency, tz, city in CUSTOMERS:
        existing = Customer.objects.filter(external_id=external_id).first()
        if existing is not None:
            customers.append(existing)
            continue
        domain = external_id.split("-")[0]
        customers.append(
            services.customer_create(
                external_id=external_id,
                name=name,
                currency=currency,
                timezone=tz,
                billing_email=f"billing@{domain}.example",
                billing_address=f"{name}\n1 Main Street\n{city}",
                metadata={"segment": "enterprise" if currency != "USD" or len(name) > 18 else "growth"},
                actor=actor,
                reason="demo data",
            )
        )
    return customers


def demo_ids() -> list[str]:
    """The external ids of the demo customers (others in the database are left alone)."""
    return [row[0] for row in CUSTOMERS]
