"""Field shapes shared by the catalog API: exact decimals as strings, aware times, reasons, references."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from revops.errors import NotFound, ValidationError
from revops.money import RATE_DECIMAL_PLACES

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe writes: the first response is returned again.",
)

FLOAT_REFUSED = 'give decimals as strings (e.g. "0.10"): a JSON number with a fraction is not exact'


class DecimalString(serializers.DecimalField):
    """An exact decimal in: a string or an integer. A float is refused rather than silently rounded."""

    default_error_messages = {"float": FLOAT_REFUSED}

    def to_internal_value(self, data):
        if isinstance(data, float):
            self.fail("float")
        return super().to_internal_value(data)


def rate_input(**kwargs) -> DecimalString:
    """A price part (unit price, fee, charge): up to 12 decimal places, like the database keeps."""
    return DecimalString(max_digits=30, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


def quantity_input(**kwargs) -> DecimalString:
    return DecimalString(max_digits=32, decimal_places=12, **kwargs)


def decimal_output(**kwargs) -> serializers.DecimalField:
    """A stored or computed decimal out, as a string without the database's trailing zeros ("0.1", "1000")."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, normalize_output=True, **kwargs)


def amount_output(**kwargs) -> serializers.DecimalField:
    """A rounded amount out, exactly as rounded (USD keeps its cents: "360.00")."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, **kwargs)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field the schema shows as one named enum component, whichever serializers use it.

    drf-spectacular names enums after the field ("status"), so two apps' different `status` choices
    collide; naming the choice set after what it is ("RateCardVersionStatus") keeps the schema stable.
    """

    def __init__(self, *, enum_name: str, **kwargs) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def get_name(self) -> str:
        return self.target.enum_name

    def map_serializer_field(self, auto_schema, direction):
        choices = self.target.choices
        blank = [""] if self.target.allow_blank else []
        return {
            "type": "string",
            "enum": [*blank, *choices],
            "description": "\n".join(f"* `{value}` - {label}" for value, label in choices.items()),
        }


class AwareDateTimeField(serializers.DateTimeField):
    """An RFC 3339 time: the offset is required, so a time is never guessed to be UTC."""

    default_error_messages = {"naive": "give a time zone offset (RFC 3339), e.g. 2026-11-01T09:00:00Z"}

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


def reason_input(*, required: bool) -> serializers.CharField:
    return serializers.CharField(
        required=required, max_length=500, help_text="why; kept in the history" + ("" if required else " (optional)")
    )


@contextlib.contextmanager
def referenced_as(field: str) -> Iterator[None]:
    """A lookup of something the input names: not finding it is bad input (400 naming the field), not a 404."""
    try:
        yield
    except NotFound as exc:
        raise ValidationError(exc.message, code=exc.code, field=field) from None
