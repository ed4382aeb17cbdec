"""Catalog state: billable metrics, products, rate cards with versions, prices and their tiers.

Business rules live in catalog/services/; the rating arithmetic in catalog/rating.py.
A rate card version is a draft until activated, then immutable: a change makes a new
version, and old versions stay forever (PROTECT everywhere below a version).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from catalog.rating import PriceModel
from revops.fields import CurrencyField, QuantityField, RateField

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,63}$",
    "use 1-64 lower-case letters, digits, _ and - (starting with a letter or digit)",
)


class Aggregation(models.TextChoices):
    COUNT = "count", "Count of events"
    SUM = "sum", "Sum of a numeric property"
    MAX = "max", "Maximum of a numeric property"
    UNIQUE_COUNT = "unique_count", "Count of unique values of a property"
    LATEST = "latest", "Latest value of a numeric property"
    TIME_WEIGHTED_SUM = "time_weighted_sum", "Time-weighted sum of a reported level (e.g. GB x hours)"


class TimeUnit(models.TextChoices):
    SECOND = "second", "second"
    MINUTE = "minute", "minute"
    HOUR = "hour", "hour"
    DAY = "day", "day"


class BillableMetric(models.Model):
    """What counts: which events (`event_type` and property filters) and how they aggregate over a period.

    `filters` is a list of {"property", "operator" (eq, in, not_in, exists), "value"}; `group_by`
    names properties whose values split the quantity (for dimensional prices). Definitions are
    checked by catalog/metrics.py. Once a metric prices an active rate card version its definition
    is frozen; make a new metric instead.
    """

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    event_type = models.CharField(max_length=128)
    aggregation = models.CharField(max_length=32, choices=Aggregation.choices)
    property = models.CharField(max_length=64, blank=True, help_text="the event property aggregated (not for count)")
    filters = models.JSONField(default=list, blank=True)
    group_by = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    time_unit = models.CharField(
        max_length=16, choices=TimeUnit.choices, blank=True, help_text="for time-weighted sums only"
    )
    unit_label = models.CharField(max_length=32, blank=True, help_text="what one unit is called: tokens, GB-hours")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ProductKind(models.TextChoices):
    USAGE = "usage", "Usage (priced from a metric)"
    SUBSCRIPTION = "subscription", "Subscription (per seat or quantity)"
    RECURRING_FEE = "recurring_fee", "Recurring fixed fee"
    ONE_TIME = "one_time", "One-time charge"


class BillingTiming(models.TextChoices):
    IN_ADVANCE = "in_advance", "In advance"
    IN_ARREARS = "in_arrears", "In arrears"


class Product(models.Model):
    """Something we sell. Usage products are priced from their metric; the others from a quantity."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=ProductKind.choices)
    metric = models.ForeignKey(BillableMetric, on_delete=models.PROTECT, null=True, blank=True, related_name="products")
    billing_timing = models.CharField(max_length=16, choices=BillingTiming.choices)
    unit_label = models.CharField(
        max_length=32, blank=True, help_text="seat, user, GB; usage products use the metric's"
    )
    product_line = models.CharField(max_length=64, blank=True, help_text="groups products for ownership and reports")
    price_floor = RateField(
        null=True, blank=True, help_text="the lowest rate per unit (or flat amount) any price of it may have"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="usage", metric__isnull=False)
                    | (~models.Q(kind="usage") & models.Q(metric__isnull=True))
                ),
                name="product_metric_iff_usage",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="usage") | models.Q(billing_timing="in_arrears"),
                name="product_usage_in_arrears",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ProductLine(models.Model):
    """A group of rate cards owned by one product team: its product managers edit only these cards' drafts.

    Ownership is a django-guardian object permission: `catalog.manage_rate_cards` on the line.
    """

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        permissions = [("manage_rate_cards", "Can edit the draft rate cards of this product line")]

    def __str__(self) -> str:
        return self.name


class RateCard(models.Model):
    """A named price list in one currency; its prices live in versions."""

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = CurrencyField()
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, null=True, blank=True, related_name="rate_cards"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="ratecard_currency_iso")
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.code}]"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"


class RateCardVersion(models.Model):
    """The card's prices from `effective_from` (a date, periods starting on or after it) until the next version.

    Draft versions can be edited; activation (one service, so approval can wrap it) freezes them.
    """

    rate_card = models.ForeignKey(RateCard, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    notes = models.TextField(blank=True)
    based_on = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["rate_card", "number"]
        permissions = [("activate_ratecardversion", "Can activate a rate card version")]
        constraints = [
            models.UniqueConstraint(fields=["rate_card", "number"], name="ratecardversion_number_unique"),
            models.UniqueConstraint(
                fields=["rate_card", "effective_from"],
                condition=models.Q(status="active"),
                name="ratecardversion_one_active_per_date",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft", activated_at__isnull=True)
                | models.Q(status="active", activated_at__isnull=False),
                name="ratecardversion_activated_at_iff_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rate_card.code} v{self.number} ({self.status}, from {self.effective_from})"

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class PackageRounding(models.TextChoices):
    UP = "up", "Every started block"
    DOWN = "down", "Complete blocks only"


class Price(models.Model):
    """How one product is priced in one rate card version (for one dimension value, if dimensional).

    A dimensional price is several rows for the same product sharing `group_key`, one per
    `group_value`, plus optionally a default row with an empty `group_value`.
    """

    version = models.ForeignKey(RateCardVersion, on_delete=models.PROTECT, related_name="prices")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    group_key = models.CharField(max_length=64, blank=True, help_text="dimensional prices: the property, e.g. model")
    group_value = models.CharField(max_length=128, blank=True, help_text="empty = the default for other values")
    model = models.CharField(max_length=16, choices=[(m.value, m.value.replace("_", " ")) for m in PriceModel])
    currency = CurrencyField()
    flat_amount = RateField(null=True, blank=True)
    unit_price = RateField(null=True, blank=True)
    package_size = QuantityField(null=True, blank=True)
    package_price = RateField(null=True, blank=True)
    package_rounding = models.CharField(max_length=8, choices=PackageRounding.choices, default=PackageRounding.UP)
    percentage = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True, help_text="2.9 = 2.9%")
    fixed_fee_per_event = RateField(null=True, blank=True)
    min_per_event = RateField(null=True, blank=True)
    max_per_event = RateField(null=True, blank=True)
    included_units = QuantityField(default=0)
    minimum_charge = RateField(null=True, blank=True)
    maximum_charge = RateField(null=True, blank=True)
    rounding = models.CharField(max_length=16, default="half_up")
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "product__code", "group_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "product", "group_value"], name="price_once_per_product_and_value"
            ),
        ]

    def __str__(self) -> str:
        suffix = f" [{self.group_key}={self.group_value or '*'}]" if self.group_key else ""
        return f"{self.product.code}{suffix}: {self.model}"


class PriceTier(models.Model):
    """A tier of a graduated or volume price: quantities in (start, up_to]; no up_to = unbounded."""

    price = models.ForeignKey(Price, on_delete=models.CASCADE, related_name="tiers")
    start = QuantityField(default=0)
    up_to = QuantityField(null=True, blank=True)
    unit_price = RateField(default=0)
    flat_fee = RateField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["price", "start"]

    def __str__(self) -> str:
        return f"({self.start}, {self.up_to if self.up_to is not None else '∞'}] at {self.unit_price}"
