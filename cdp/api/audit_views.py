"""DPO export of the audit log over the API (dpo scope): validate, call the service, stream."""

from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.services.audit_export import FORMATS, AuditFilter, BadBound, audit_export, parse_bound


class _Bound(serializers.CharField):
    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end = end

    def to_internal_value(self, data: Any) -> Any:
        try:
            return parse_bound(super().to_internal_value(data), end=self.end)
        except BadBound as exc:
            raise serializers.ValidationError(str(exc)) from exc


class AuditExportQuerySerializer(serializers.Serializer):
    since = _Bound(required=False, help_text="YYYY-MM-DD (whole day) or ISO 8601, included")
    until = _Bound(end=True, required=False, help_text="YYYY-MM-DD (whole day, included) "
                   "or ISO 8601 (excluded)")
    subject = serializers.UUIDField(required=False, help_text="Profile id.")
    action = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    format = serializers.ChoiceField(choices=FORMATS, default="json")


class _FileFormatNegotiation(BaseContentNegotiation):
    """`format` picks the export's file format here, not a DRF renderer; errors are JSON."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class AuditExportApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo")]
    content_negotiation_class = _FileFormatNegotiation

    @extend_schema(
        parameters=[AuditExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, header row"),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="JSON array of row objects"
            ),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        """Audit rows in chain order, streamed as CSV or a JSON array; the export is audited."""
        query = AuditExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        export = audit_export(
            filters=AuditFilter(
                since=params.get("since"), until=params.get("until"),
                subject=params.get("subject"), action=params["action"],
            ),
            fmt=params["format"], actor=request.user.actor, via="api",
        )
        response = StreamingHttpResponse(export, content_type=export.content_type)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{params["format"]}"'
        return response
