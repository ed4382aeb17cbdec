"""Customers and their contracts: terms in versions, subscription schedules, commit and credit balances."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from revops.fields import AmountField, QuantityField

external_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
    "use 1-128 letters, digits and . _ : @ - (starting with a letter or digit)",
)


class TestClockStatus(models.TextChoices):
    __test__ = False  # not a test, whatever pytest makes of the name
    READY = "ready", "Ready"
    ADVANCING = "advancing", "Advancing"
    FAILED = "failed", "Failed"


class TestClock(models.Model):
    """A simulated time for testing: the customers attached to it live at `frozen_time`, and advancing it runs
    everything that would have happened to them in between (period closes, finalizations, expiries)."""

    __test__ = False  # not a test, whatever pytest makes of the name

    name = models.CharField(max_length=200)
    frozen_time = models.DateTimeField()
    status = models.CharField(max_length=16, choices=TestClockStatus.choices, default=TestClockStatus.READY)
    error = models.TextField(blank=True, help_text="why the last advance failed")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["ready", "advancing", "failed"]), name="testclock_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.frozen_time:%Y-%m-%d %H:%M} UTC"


class Customer(models.Model):
    """A company that buys from us. `external_id` is the id the product and CRM know it by."""

    external_id = models.CharField(max_length=128, unique=True, validators=[external_id_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code invoices are issued in")
    billing_email = models.EmailField(blank=True)
    billing_address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="IANA timezone; billing periods turn at midnight in it"
    )
    metadata = models.JSONField(default=dict, blank=True)
    tax_region = models.CharField(
        max_length=16, blank=True, help_text="where it is taxed: ISO 3166 code (DE, US-CA) or EU; empty: no tax"
    )
    tax_exempt = models.BooleanField(default=False)
    tax_exempt_reason = models.TextField(blank=True)
    tax_rate_percent = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="a customer-specific rate instead of the region's",
    )
    test_clock = models.ForeignKey(
        TestClock,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        help_text="a simulated customer: it lives at this clock's time, and only the clock moves its billing",
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="managed_customers",
        help_text="sees this customer even without the permission to see every customer",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]
        permissions = [("view_all_customers", "Can see every customer, not only those they manage")]
        constraints = [
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="customer_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class CustomerAlias(models.Model):
    """Another id a customer's usage events may name it by (a workspace id, an account slug).

    Aliases and external ids share one namespace: an alias never equals another customer's external id.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=128, unique=True, validators=[external_id_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "customer aliases"
        ordering = ["alias"]

    def __str__(self) -> str:
        return self.alias


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class Cadence(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUAL = "annual", "Annual"


class ProrationTiming(models.TextChoices):
    IMMEDIATELY = "immediately", "Bill the prorated difference at once"
    NEXT_INVOICE = "next_invoice", "Bill the prorated difference on the next invoice"


class Contract(models.Model):
    """A customer signed to a rate card: pinned to one version (grandfathered) or following the card.

    Its terms live in versions (`ContractVersion`): the signed terms are version 1, and every
    amendment is a new version with an effective date, holding the whole set of terms from then on.
    Reading the contract as it was on a date is reading the version in effect that day.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=200, blank=True)
    rate_card = models.ForeignKey("catalog.RateCard", on_delete=models.PROTECT, related_name="contracts")
    pinned_version = models.ForeignKey(
        "catalog.RateCardVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="grandfathered on this version; empty: follows the card as new versions activate",
    )
    currency = models.CharField(max_length=3)
    cadence = models.CharField(max_length=16, choices=Cadence.choices, default=Cadence.MONTHLY)
    billing_anchor = models.DateField(help_text="periods start on this day (clamped to short months)")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="exclusive; empty: open-ended")
    status = models.CharField(max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    proration = models.CharField(max_length=16, choices=ProrationTiming.choices, default=ProrationTiming.NEXT_INVOICE)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["customer", "start_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gt=models.F("start_date")),
                name="contract_dates_in_order",
            ),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="contract_currency_iso"),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.customer.external_id} on {self.rate_card.code} from {self.start_date}"


class ContractVersion(models.Model):
    """The contract's terms from `effective_from` until the next version: 1 is the signed contract,
    every amendment adds one. Terms hang off a version and are never edited once it is in effect."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateField()
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contractversion_number_unique"),
            models.UniqueConstraint(fields=["contract", "effective_from"], name="contractversion_one_per_date"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} v{self.number} from {self.effective_from}"


class OverrideKind(models.TextChoices):
    REPLACE = "replace", "Replace the price"
    MULTIPLIER = "multiplier", "Multiply the price"
    DISCOUNT = "discount", "Percentage discount"


class PriceOverride(models.Model):
    """Changes the card's price for one product, or for the whole card when `product` is empty.

    `replace` swaps in a whole price (`price` holds its fields and tiers, as the catalog API takes
    them: a tiered override is a replace with tiers); `multiplier` scales every amount of the
    price; `discount` takes a percentage off.
    """

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="overrides")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=16, choices=OverrideKind.choices)
    multiplier = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    discount_percent = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    price = models.JSONField(null=True, blank=True, help_text="replace: the price fields and tiers")
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.kind} on {self.product.code if self.product else 'the whole card'}"


class IncludedUsage(models.Model):
    """Units of a usage product included every period (e.g. 1,000 AI credits a month); beyond, the price."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="included_usage")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField()
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.quantity} {self.product.code} included"


class MinimumSpend(models.Model):
    """A minimum per period: at period end, a true-up line bills the shortfall."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="minimums")
    amount = AmountField()
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"minimum {self.amount}"


class Trial(models.Model):
    """A free trial: no base fees until `ends_on`; usage during it is free unless `usage_billed`."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="trials")
    ends_on = models.DateField(help_text="exclusive")
    usage_billed = models.BooleanField(default=False)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"trial until {self.ends_on}"


class ChangeTiming(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately, prorated"
    PERIOD_END = "period_end", "At the end of the period"


class SubscriptionChange(models.Model):
    """One entry of a contract's subscription schedule: from `effective_date` on, `quantity` of `product`.

    Append-only: the quantity on a date is the latest entry in effect that day, so the schedule can
    be read as it was on any date. A plan change is two entries (old product to 0, new product up).
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="subscription_changes")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField()
    effective_date = models.DateField()
    timing = models.CharField(max_length=16, choices=ChangeTiming.choices, default=ChangeTiming.IMMEDIATE)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "product", "effective_date", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gte=0), name="subscription_quantity_gte_0")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.code} from {self.effective_date}"


class BalanceKind(models.TextChoices):
    COMMIT = "commit", "Prepaid commitment"
    CREDIT = "credit", "Credit grant"


class Balance(models.Model):
    """A prepaid commitment or a credit grant: money usage draws down, within its access period.

    The balance is the sum of its ledger entries, never a stored number. Usage draws from the
    balances that expire soonest, then by priority (lower first), then the oldest.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="balances")
    kind = models.CharField(max_length=16, choices=BalanceKind.choices)
    name = models.CharField(max_length=200, blank=True)
    amount = AmountField(help_text="granted or committed")
    priority = models.PositiveIntegerField(default=100)
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="credits only: limit to this product",
    )
    starts_on = models.DateField()
    expires_on = models.DateField(help_text="exclusive: the balance can be drawn before this date")
    rollover_fraction = models.DecimalField(
        max_digits=7, decimal_places=6, default=0, help_text="commits: the share of what is left that rolls over"
    )
    reason = models.TextField(blank=True)
    rolled_over_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the expired commitment whose unused share became this one (already paid for)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "expires_on", "priority", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="balance_amount_positive"),
            models.CheckConstraint(condition=models.Q(expires_on__gt=models.F("starts_on")), name="balance_dates"),
            models.CheckConstraint(
                condition=models.Q(rollover_fraction__gte=0, rollover_fraction__lte=1), name="balance_rollover_0_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} {self.amount} until {self.expires_on}"


class EntryKind(models.TextChoices):
    GRANT = "grant", "Grant"
    DRAWDOWN = "drawdown", "Draw-down"
    EXPIRY = "expiry", "Expiry"
    ROLLOVER = "rollover", "Rollover"
    VOID = "void", "Void"
    ADJUSTMENT = "adjustment", "Manual adjustment"


class LedgerEntry(models.Model):
    """An append-only movement on a balance. Grants and rollovers in are positive; the rest negative."""

    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = AmountField()
    effective_at = models.DateTimeField()
    memo = models.TextField(blank=True)
    reference = models.CharField(max_length=128, blank=True, help_text="e.g. the invoice line it paid")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["balance", "effective_at", "pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # Money in is positive, money out negative; a zero movement means nothing.
            models.CheckConstraint(
                condition=(models.Q(kind="grant", amount__gt=0))
                | (models.Q(kind__in=["drawdown", "expiry", "void"], amount__lt=0))
                | (models.Q(kind__in=["rollover", "adjustment"]) & ~models.Q(amount=0)),
                name="ledgerentry_sign_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
