"""Connector endpoints: destinations, audience syncs and their runs, the DPO's erasure
proof export, and the Mailchimp opt-out webhook. Validate, call a service, render."""

import hmac
import logging

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.api.exporting import FileFormatNegotiation, export_responses, streamed_file
from cdp.models import ApiKey
from connectors.erasure_export import DeliveryFilter, erasure_deliveries_export
from connectors.models import AudienceSync, Destination
from connectors.serializers import (
    DestinationInputSerializer,
    DestinationOutputSerializer,
    ErasureExportQuerySerializer,
    SyncInputSerializer,
    SyncOutputSerializer,
    SyncRunSerializer,
    errors_body,
)
from connectors.services import (
    Invalid,
    destination_change,
    destination_opt_out,
    destination_save,
    sync_change,
    sync_delete,
    sync_run_request,
    sync_save,
)

logger = logging.getLogger(__name__)
# Marketers see destinations and build syncs; only admins change destinations.
READ_DESTINATIONS = [IsAuthenticated, scope_required("marketer", "admin")]
WRITE_DESTINATIONS = [IsAuthenticated, scope_required("admin")]
SYNCS = [IsAuthenticated, scope_required("marketer", "admin")]
ERROR = OpenApiResponse(
    inline_serializer("FieldErrors", {"errors": serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()))}),
    description='{"errors": [{"field", "message"}]}')


def _invalid(errors: list[dict[str, str]], code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"errors": errors}, status=code)


def _refused(exc: Invalid, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return _invalid([{"field": exc.field, "message": exc.message}], code)


def _output(request: Request, destination: Destination) -> dict:
    key = getattr(request, "auth", None)
    show = isinstance(key, ApiKey) and key.has_scope("admin")
    return DestinationOutputSerializer(
        destination, context={"request": request, "show_token": show}).data


class DestinationListApi(APIView):
    def get_permissions(self) -> list:
        chosen = READ_DESTINATIONS if self.request.method in ("GET", "HEAD") else \
            WRITE_DESTINATIONS
        return [p() for p in chosen]

    @extend_schema(responses=DestinationOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every destination (credentials never returned)."""
        return Response([_output(request, d) for d in Destination.objects.order_by("name")])

    @extend_schema(request=DestinationInputSerializer,
                   responses={201: DestinationOutputSerializer, 400: ERROR})
    def post(self, request: Request) -> Response:
        """Create a destination; its credentials are sealed at once. Admin scope."""
        data = DestinationInputSerializer(data=request.data)
        if not data.is_valid():
            return _invalid(errors_body(data.errors))
        try:
            destination = destination_save(actor=request.user.actor, **data.validated_data)
        except Invalid as exc:
            return _refused(exc)
        return Response(_output(request, destination), status=status.HTTP_201_CREATED)


class DestinationDetailApi(APIView):
    def get_permissions(self) -> list:
        chosen = READ_DESTINATIONS if self.request.method in ("GET", "HEAD") else \
            WRITE_DESTINATIONS
        return [p() for p in chosen]

    @extend_schema(responses=DestinationOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_output(request, get_object_or_404(Destination, pk=pk)))

    def _change(self, request: Request, pk: int, *, partial: bool) -> Response:
        destination = get_object_or_404(Destination, pk=pk)
        data = DestinationInputSerializer(data=request.data, partial=partial)
        if not data.is_valid():
            return _invalid(errors_body(data.errors))
        try:
            destination = destination_change(actor=request.user.actor, destination=destination,
                                             **data.validated_data)
        except Invalid as exc:
            return _refused(exc)
        return Response(_output(request, destination))

    @extend_schema(request=DestinationInputSerializer,
                   responses={200: DestinationOutputSerializer, 400: ERROR})
    def put(self, request: Request, pk: int) -> Response:
        """Change a destination (credentials left out are kept). Disable it with
        `enabled: false`: destinations are never deleted (erasure proofs name them)."""
        return self._change(request, pk, partial=False)

    @extend_schema(request=DestinationInputSerializer,
                   responses={200: DestinationOutputSerializer, 400: ERROR})
    def patch(self, request: Request, pk: int) -> Response:
        """Change some values of a destination."""
        return self._change(request, pk, partial=True)


def _syncs() -> QuerySet[AudienceSync]:
    return AudienceSync.objects.select_related("segment", "destination")


class SyncListApi(APIView):
    permission_classes = SYNCS

    @extend_schema(responses=SyncOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SyncOutputSerializer(_syncs().order_by("pk"), many=True).data)

    @extend_schema(request=SyncInputSerializer,
                   responses={201: SyncOutputSerializer, 400: ERROR})
    def post(self, request: Request) -> Response:
        """Create an audience sync (segment -> destination container)."""
        data = SyncInputSerializer(data=request.data)
        if not data.is_valid():
            return _invalid(errors_body(data.errors))
        try:
            sync = sync_save(actor=request.user.actor, **data.validated_data)
        except Invalid as exc:
            return _refused(exc)
        return Response(SyncOutputSerializer(sync).data, status=status.HTTP_201_CREATED)


class SyncDetailApi(APIView):
    permission_classes = SYNCS

    @extend_schema(responses=SyncOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SyncOutputSerializer(get_object_or_404(_syncs(), pk=pk)).data)

    def _change(self, request: Request, pk: int, *, partial: bool) -> Response:
        sync = get_object_or_404(_syncs(), pk=pk)
        data = SyncInputSerializer(data=request.data, partial=partial)
        if not data.is_valid():
            return _invalid(errors_body(data.errors))
        try:
            sync = sync_change(actor=request.user.actor, sync=sync, **data.validated_data)
        except Invalid as exc:
            return _refused(exc)
        return Response(SyncOutputSerializer(sync).data)

    @extend_schema(request=SyncInputSerializer, responses={200: SyncOutputSerializer, 400: ERROR})
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, partial=False)

    @extend_schema(request=SyncInputSerializer, responses={200: SyncOutputSerializer, 400: ERROR})
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Stop syncing: the sync is disabled, its members stay at the vendor."""
        sync_delete(actor=request.user.actor, sync=get_object_or_404(AudienceSync, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncRunApi(APIView):
    permission_classes = SYNCS

    @extend_schema(request=None, responses={
        202: inline_serializer("SyncRunQueued", {"task_id": serializers.CharField()}),
        409: ERROR})
    def post(self, request: Request, pk: int) -> Response:
        """Queue a run now; 409 when the sync or its destination is disabled."""
        sync = get_object_or_404(_syncs(), pk=pk)
        try:
            task_id = sync_run_request(actor=request.user.actor, sync=sync)
        except Invalid as exc:
            return _refused(exc, status.HTTP_409_CONFLICT)
        return Response({"task_id": task_id}, status=status.HTTP_202_ACCEPTED)


class _Newest(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"


class SyncRunsApi(APIView):
    permission_classes = SYNCS

    @extend_schema(responses=SyncRunSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """The sync's runs with their counters, newest first, cursor-paginated."""
        sync = get_object_or_404(AudienceSync, pk=pk)
        paginator = _Newest()
        page = paginator.paginate_queryset(sync.runs.all(), request, view=self)
        return paginator.get_paginated_response(SyncRunSerializer(page, many=True).data)


class ErasureDeliveryExportApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo", personal_data=True)]
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[ErasureExportQuerySerializer],
        responses=export_responses("deliveries", {400: ERROR}),
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        """Erasure proof per destination (status, attempts, the vendor's answer), streamed
        as CSV or JSON; the export is audited."""
        query = ErasureExportQuerySerializer(data=request.query_params)
        if not query.is_valid():
            return _invalid(errors_body(query.errors))
        params = query.validated_data
        filters = DeliveryFilter(
            request=params.get("request"), status=params.get("status", ""),
            since=params.get("since"), until=params.get("until"), subject=params.get("subject"))
        export = erasure_deliveries_export(filters=filters, fmt=params["format"],
                                           actor=request.user.actor, via="api")
        return streamed_file(export, name="erasure-deliveries")


MAILCHIMP_EVENT = inline_serializer("MailchimpWebhookEvent", {
    "type": serializers.CharField(help_text="unsubscribe, cleaned (acted on); others ignored"),
    "fired_at": serializers.CharField(required=False),
    "data[email]": serializers.CharField(),
    "data[list_id]": serializers.CharField(required=False),
})
TOKEN = OpenApiParameter("token", str, required=True,
                         description="The destination's inbound token (shown to admins).")


class MailchimpWebhookApi(APIView):
    """Mailchimp list webhook. Mailchimp cannot send an API key: the destination's
    inbound token in the URL authenticates the call."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    renderer_classes = [JSONRenderer]

    def _destination(self, request: Request, pk: int) -> Destination:
        destination = get_object_or_404(Destination, pk=pk, kind=Destination.Kind.MAILCHIMP)
        token = request.query_params.get("token", "")
        expected = destination.inbound_token
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            logger.warning("mailchimp webhook: wrong token for destination %s", pk)
            raise exceptions.PermissionDenied("wrong token")
        return destination

    @extend_schema(auth=[], parameters=[TOKEN],
                   responses={200: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        """Mailchimp checks the URL with a GET before saving the webhook."""
        self._destination(request, pk)
        return Response({"ok": True})

    @extend_schema(auth=[], parameters=[TOKEN],
                   request={"application/x-www-form-urlencoded": MAILCHIMP_EVENT},
                   responses={200: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT})
    def post(self, request: Request, pk: int) -> Response:
        """Unsubscribes and cleaned addresses become consent withdrawals (source
        dest-<name>); other event types are acknowledged and ignored."""
        destination = self._destination(request, pk)
        data = request.data
        withdrawn = destination_opt_out(
            destination=destination, event=str(data.get("type", "")),
            email=str(data.get("data[email]", "")), list_id=str(data.get("data[list_id]", "")),
            fired_at=str(data.get("fired_at", "")))
        return Response({"ok": True, "withdrawn": withdrawn})
