"""API pieces every DPO export endpoint shares: query parameters, format negotiation and
the streamed file response."""

from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request

from cdp.services.exporting import FORMATS, BadBound, StreamedExport, parse_bound


class BoundField(serializers.CharField):
    """A date (whole local day) or an ISO 8601 date-time, as the export commands read them."""

    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end = end

    def to_internal_value(self, data: Any) -> Any:
        try:
            return parse_bound(super().to_internal_value(data), end=self.end)
        except BadBound as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ExportQuerySerializer(serializers.Serializer):
    since = BoundField(required=False, help_text="YYYY-MM-DD (whole day) or ISO 8601, included")
    until = BoundField(end=True, required=False, help_text="YYYY-MM-DD (whole day, included) "
                       "or ISO 8601 (excluded)")
    subject = serializers.UUIDField(required=False, help_text="Profile id.")
    format = serializers.ChoiceField(choices=FORMATS, default="json")


class FileFormatNegotiation(BaseContentNegotiation):
    """`format` picks the export's file format here, not a DRF renderer; errors are JSON."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def streamed_file(export: StreamedExport, *, name: str) -> StreamingHttpResponse:
    """The export as a download named <name>-<timestamp>.<format>."""
    response = StreamingHttpResponse(export, content_type=export.content_type)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{export.fmt}"'
    return response


def export_responses(rows: str, errors: dict | None = None) -> dict:
    """The OpenAPI responses of an export endpoint: CSV or a JSON array of `rows`, plus
    its error responses by status."""
    return {
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, header row"),
        (200, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description=f"JSON array of {rows}"),
        **(errors or {}),
    }
