"""Input serializer base: unknown fields are an error, never silently ignored."""

from __future__ import annotations

from rest_framework import serializers


class StrictInput(serializers.Serializer):
    """Refuses keys the operation does not take, so a typo or a read-only field is reported, not dropped."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["this field is not accepted here"] for name in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)
