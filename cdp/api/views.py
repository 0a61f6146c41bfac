"""Ingestion and profile endpoints: validate the envelope, call one service, render."""

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.api.errors import BatchRejected
from cdp.api.serializers import (
    BatchReportSerializer,
    EventBatchSerializer,
    ProfileSerializer,
    RecordBatchSerializer,
)
from cdp.models import Source
from cdp.roles import api_key_sees_personal_data
from cdp.selectors import source_get
from cdp.services.ingest import BatchReport, event_batch_ingest, record_batch_ingest
from cdp.services.profiles import profile_view


def _envelope(data: Any, key: str, limit: int) -> tuple[Source, list]:
    """Check the batch wrapper; anything wrong here rejects the whole request."""
    if not isinstance(data, dict):
        raise BatchRejected([{"index": None, "field": None, "message": "body must be an object"}])
    errors = []
    name = data.get("source")
    source = source_get(name) if isinstance(name, str) else None
    if source is None:
        errors.append({"index": None, "field": "source", "message": "unknown or missing source"})
    items = data.get(key)
    if not isinstance(items, list) or not items:
        errors.append({"index": None, "field": key, "message": "must be a non-empty list"})
    elif len(items) > limit:
        errors.append({"index": None, "field": key, "message": f"at most {limit} items per batch"})
    if errors:
        raise BatchRejected(errors)
    return source, items


def _answer(report: BatchReport) -> Response:
    code = status.HTTP_200_OK if report.accepted else status.HTTP_400_BAD_REQUEST
    return Response(report.as_dict(), status=code)


_BATCH_RESPONSES = {
    200: BatchReportSerializer,
    400: OpenApiResponse(BatchReportSerializer, description="No valid item, or bad envelope."),
}


class RecordBatchApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("ingest")]

    @extend_schema(request=RecordBatchSerializer, responses=_BATCH_RESPONSES)
    def post(self, request: Request) -> Response:
        """Upsert up to 5,000 records by (source, external_id); invalid items are reported."""
        source, items = _envelope(request.data, "records", settings.CDP_RECORD_BATCH_MAX)
        return _answer(record_batch_ingest(source=source, items=items))


class EventBatchApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("ingest")]

    @extend_schema(request=EventBatchSerializer, responses=_BATCH_RESPONSES)
    def post(self, request: Request) -> Response:
        """Store up to 10,000 events, idempotent by (source, id)."""
        source, items = _envelope(request.data, "events", settings.CDP_EVENT_BATCH_MAX)
        return _answer(event_batch_ingest(source=source, items=items))


class ProfileDetailApi(APIView):
    permission_classes = [
        IsAuthenticated,
        scope_required("read", "dpo", "marketer", "steward", personal_data=True),
    ]

    @extend_schema(responses={200: ProfileSerializer})
    def get(self, request: Request, profile_id: uuid.UUID) -> Response:
        """A profile and its source records, in clear for read and dpo keys, masked for
        marketer and steward keys (j***@gmail.com); the read is audited."""
        data = profile_view(profile_id=profile_id, actor=request.user.actor, purpose="api",
                            masked=not api_key_sees_personal_data(request.auth))
        return Response(ProfileSerializer(data).data)
