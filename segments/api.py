"""Segment endpoints: CRUD, preview, members, history, runs, evaluate, explain."""

import uuid
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from segments import selectors
from segments.models import Segment
from segments.serializers import (
    MembershipSerializer,
    PreviewInputSerializer,
    RunSerializer,
    SegmentInputSerializer,
    SegmentOutputSerializer,
)
from segments.services import SegmentInvalid, segment_delete, segment_save

# Marketers build segments: a marketer key reads and writes them (samples stay masked).
READ = [IsAuthenticated, scope_required("read", "marketer")]
WRITE = [IsAuthenticated, scope_required("admin", "marketer")]
# Audited reads about people (a masked sample, one profile's values): refusals audited too.
READ_PEOPLE = [IsAuthenticated, scope_required("read", "marketer", personal_data=True)]


def _invalid(exc: SegmentInvalid) -> Response:
    errors = [{"path": e.path, "message": e.message} for e in exc.errors]
    return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)


def _write_permissions(request: Request) -> list:
    return WRITE if request.method not in ("GET", "HEAD", "OPTIONS") else READ


class SegmentListApi(APIView):
    def get_permissions(self) -> list:
        return [p() for p in _write_permissions(self.request)]

    @extend_schema(responses=SegmentOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SegmentOutputSerializer(selectors.segment_list(), many=True).data)

    @extend_schema(request=SegmentInputSerializer, responses={201: SegmentOutputSerializer})
    def post(self, request: Request) -> Response:
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            segment = segment_save(actor=request.user.actor, **data.validated_data)
        except SegmentInvalid as exc:
            return _invalid(exc)
        return Response(SegmentOutputSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailApi(APIView):
    def get_permissions(self) -> list:
        return [p() for p in _write_permissions(self.request)]

    @extend_schema(responses=SegmentOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SegmentOutputSerializer(get_object_or_404(Segment, pk=pk)).data)

    @extend_schema(request=SegmentInputSerializer, responses=SegmentOutputSerializer)
    def put(self, request: Request, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            segment = segment_save(actor=request.user.actor, segment=segment,
                                   **data.validated_data)
        except SegmentInvalid as exc:
            return _invalid(exc)
        return Response(SegmentOutputSerializer(segment).data)

    def delete(self, request: Request, pk: int) -> Response:
        segment_delete(segment=get_object_or_404(Segment, pk=pk), actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleSchemaApi(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request: Request) -> Response:
        """The versioned JSON schema of segment definitions (public, no data in it)."""
        from segments.rules import rule_schema

        return Response(rule_schema())


class SegmentPreviewApi(APIView):
    permission_classes = READ_PEOPLE

    @extend_schema(request=PreviewInputSerializer)
    def post(self, request: Request) -> Response:
        """Count and a masked sample of a draft definition, without saving."""
        from segments.preview import segment_preview
        from segments.rules import validate_definition
        from segments.services import segment_resolve

        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        definition = data.validated_data["definition"]
        from segments.ml.registry import segment_model_resolve

        errors = validate_definition(definition, resolve_segment=segment_resolve,
                                     resolve_model=segment_model_resolve)
        if errors:
            return _invalid(SegmentInvalid(errors))
        return Response(segment_preview(definition=definition, actor=request.user.actor))


class _Newest(CursorPagination):
    ordering = ("-entered_at", "-id")
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class SegmentMembersApi(APIView):
    permission_classes = READ

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """Current members, newest first, cursor-paginated."""
        return _paginated(request, self, selectors.segment_members(
            get_object_or_404(Segment, pk=pk)))


class SegmentHistoryApi(APIView):
    permission_classes = READ

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """Every stay (entered_at, exited_at), newest first, cursor-paginated."""
        return _paginated(request, self, selectors.segment_history(
            get_object_or_404(Segment, pk=pk)))


def _paginated(request: Request, view: Any, queryset: Any) -> Response:
    paginator = _Newest()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(MembershipSerializer(page, many=True).data)


class SegmentRunsApi(APIView):
    permission_classes = READ

    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        runs = selectors.segment_runs(get_object_or_404(Segment, pk=pk))[:100]
        return Response(RunSerializer(runs, many=True).data)


class SegmentEvaluateApi(APIView):
    permission_classes = WRITE

    def post(self, request: Request, pk: int) -> Response:
        """Queue a full evaluation now."""
        from segments.tasks import segment_evaluate_task

        segment = get_object_or_404(Segment, pk=pk)
        result = segment_evaluate_task.delay(segment.pk, "manual")
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)


class SegmentExplainApi(APIView):
    permission_classes = READ_PEOPLE

    def get(self, request: Request, pk: int, profile_id: uuid.UUID) -> Response:
        """Each condition's value and result for one profile: why (not) a member."""
        from segments.explain import segment_explain

        segment = get_object_or_404(Segment, pk=pk)
        return Response(segment_explain(segment=segment, profile_id=profile_id,
                                        actor=request.user.actor))
