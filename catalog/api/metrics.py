"""Billable metric API: list, create, read and change metrics; preview a definition over sample events."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import metrics as definitions
from catalog import selectors
from catalog.api.fields import IDEMPOTENCY, AwareDateTimeField, NamedChoiceField, decimal_output, reason_input
from catalog.models import Aggregation, BillableMetric, TimeUnit
from catalog.services import metrics as services
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.models import ApiScope

MAX_PREVIEW_EVENTS = 10_000


def _aggregation(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="MetricAggregation", choices=Aggregation.choices, **kwargs)


def _time_unit(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="MetricTimeUnit", choices=TimeUnit.choices, allow_blank=True, **kwargs)


class MetricOutput(serializers.ModelSerializer):
    aggregation = _aggregation(read_only=True)
    time_unit = _time_unit(read_only=True)

    class Meta:
        model = BillableMetric
        fields = [
            "code",
            "name",
            "description",
            "event_type",
            "aggregation",
            "property",
            "filters",
            "group_by",
            "time_unit",
            "unit_label",
            "created_at",
            "updated_at",
        ]


class MetricFilterInput(StrictInput):
    property = serializers.CharField(max_length=64, help_text="the event property compared")
    operator = NamedChoiceField(
        enum_name="MetricFilterOperator", choices=definitions.FILTER_OPERATORS, required=False, help_text="default eq"
    )
    value = serializers.JSONField(
        required=False, allow_null=True, help_text="eq: one value; in, not_in: a list; exists: true or false"
    )


class _MetricDefinitionInput(StrictInput):
    """What counts and how it aggregates; the service checks the combination and names every problem."""

    event_type = serializers.CharField(max_length=128)
    aggregation = _aggregation()
    property = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="the event property aggregated (not for count)"
    )
    filters = MetricFilterInput(many=True, required=False)
    group_by = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    time_unit = _time_unit(required=False, help_text="time-weighted sums only")


class MetricCreateInput(_MetricDefinitionInput):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    unit_label = serializers.CharField(required=False, allow_blank=True, max_length=32)
    reason = reason_input(required=False)


class MetricUpdateInput(StrictInput):
    """Descriptive fields at any time; the definition only while no active rate card version prices from it."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    unit_label = serializers.CharField(required=False, allow_blank=True, max_length=32)
    event_type = serializers.CharField(max_length=128, required=False)
    aggregation = _aggregation(required=False)
    property = serializers.CharField(max_length=64, required=False, allow_blank=True)
    filters = MetricFilterInput(many=True, required=False)
    group_by = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    time_unit = _time_unit(required=False)
    reason = reason_input(required=True)


class MetricPreviewEventInput(StrictInput):
    event_type = serializers.CharField(max_length=128)
    timestamp = AwareDateTimeField()
    properties = serializers.DictField(required=False, default=dict)


class MetricPreviewInput(StrictInput):
    """Sample events and a period [start, end); nothing is stored."""

    events = MetricPreviewEventInput(many=True, max_length=MAX_PREVIEW_EVENTS)
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    group_key = serializers.CharField(
        required=False, allow_null=True, max_length=64, help_text="split by this group-by property"
    )

    def validate(self, attrs):
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": ["the period must end after it starts"]})
        return attrs


class MetricDefinitionPreviewInput(_MetricDefinitionInput, MetricPreviewInput):
    """A definition not yet saved, with sample events and a period."""


class MetricPreviewGroupOutput(serializers.Serializer):
    group = serializers.CharField(help_text='the group value; "" without group_key or for events that lack it')
    quantity = decimal_output()
    event_count = serializers.IntegerField()


class MetricPreviewOutput(serializers.Serializer):
    group_key = serializers.CharField(allow_null=True)
    groups = MetricPreviewGroupOutput(many=True)


def _preview_output(result: dict[str, definitions.GroupQuantity], group_key: str | None) -> dict:
    groups = [{"group": g, "quantity": q.quantity, "event_count": q.event_count} for g, q in sorted(result.items())]
    return MetricPreviewOutput({"group_key": group_key, "groups": groups}).data


class MetricListCreateApi(ApiView):
    """List billable metrics, or define one."""

    pagination_class = Pagination

    @extend_schema(operation_id="metrics_list", responses=MetricOutput(many=True), tags=["metrics"])
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(BillableMetric.objects.order_by("code"), request, view=self)
        return paginator.get_paginated_response(MetricOutput(page, many=True).data)

    @extend_schema(
        operation_id="metrics_create",
        request=MetricCreateInput,
        responses={201: MetricOutput},
        parameters=[IDEMPOTENCY],
        tags=["metrics"],
    )
    def post(self, request):
        data = MetricCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "metric created over the API")
        metric = services.metric_create(actor=request.user, reason=reason, **fields)
        return Response(MetricOutput(metric).data, status=status.HTTP_201_CREATED)


class MetricDetailApi(ApiView):
    """Read a metric, or change it (with a reason). A definition an active price bills from is frozen (409)."""

    @extend_schema(operation_id="metrics_retrieve", responses=MetricOutput, tags=["metrics"])
    def get(self, request, code: str):
        return Response(MetricOutput(selectors.metric_get(code=code)).data)

    @extend_schema(
        operation_id="metrics_update",
        request=MetricUpdateInput,
        responses=MetricOutput,
        parameters=[IDEMPOTENCY],
        tags=["metrics"],
    )
    def patch(self, request, code: str):
        metric = selectors.metric_get(code=code)
        data = MetricUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason")
        metric = services.metric_update(metric=metric, actor=request.user, reason=reason, **fields)
        return Response(MetricOutput(metric).data)


class MetricDefinitionPreviewApi(ApiView):
    """The quantity a metric definition (not saved) yields over sample events, per group. Stores nothing."""

    required_scope = ApiScope.READ  # computes only

    @extend_schema(
        operation_id="metrics_definition_preview",
        request=MetricDefinitionPreviewInput,
        responses=MetricPreviewOutput,
        tags=["metrics"],
    )
    def post(self, request):
        data = MetricDefinitionPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        result = services.metric_preview(
            definition=services.metric_definition_check(fields),
            events=fields["events"],
            start=fields["start"],
            end=fields["end"],
            group_key=fields.get("group_key"),
        )
        return Response(_preview_output(result, fields.get("group_key")))


class MetricPreviewApi(ApiView):
    """The quantity a saved metric yields over sample events, per group. Stores nothing."""

    required_scope = ApiScope.READ  # computes only

    @extend_schema(
        operation_id="metrics_preview", request=MetricPreviewInput, responses=MetricPreviewOutput, tags=["metrics"]
    )
    def post(self, request, code: str):
        metric = selectors.metric_get(code=code)
        data = MetricPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        result = services.metric_preview(
            definition=services.definition_of(metric),
            events=fields["events"],
            start=fields["start"],
            end=fields["end"],
            group_key=fields.get("group_key"),
        )
        return Response(_preview_output(result, fields.get("group_key")))
