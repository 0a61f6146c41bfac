"""DPO export of the audit log over the API (dpo scope): validate, call the service, stream."""


from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.api.exporting import (
    ExportQuerySerializer,
    FileFormatNegotiation,
    export_responses,
    streamed_file,
)
from cdp.services.audit_export import AuditFilter, audit_export


class AuditExportQuerySerializer(ExportQuerySerializer):
    action = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)


class AuditExportApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo", personal_data=True)]
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[AuditExportQuerySerializer],
        responses=export_responses("row objects"),
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
        return streamed_file(export, name="audit")
