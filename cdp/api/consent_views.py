"""Consent and restriction endpoints: validate, call one service or selector, render."""

import uuid

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.api.consent_serializers import (
    ConsentBatchSerializer,
    ConsentExportQuerySerializer,
    ProfileConsentsSerializer,
    RestrictionInputSerializer,
    RestrictionOutputSerializer,
)
from cdp.api.exporting import FileFormatNegotiation, export_responses, streamed_file
from cdp.api.serializers import BatchReportSerializer
from cdp.api.views import _answer, _envelope
from cdp.models import Profile
from cdp.services.consent_export import ConsentFilter, consents_export
from cdp.services.consents import consents_record, profile_consents_view
from cdp.services.restriction import profile_restrict, profile_unrestrict

CONSENT_BATCH_MAX = 5000


class ConsentBatchApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("ingest")]

    @extend_schema(
        request=ConsentBatchSerializer,
        responses={
            200: BatchReportSerializer,
            400: OpenApiResponse(BatchReportSerializer, description="No valid item, or bad "
                                 "envelope."),
        },
    )
    def post(self, request: Request) -> Response:
        """Append up to 5,000 consent entries to the ledger; resent entries are duplicates."""
        source, items = _envelope(request.data, "consents", CONSENT_BATCH_MAX)
        report = consents_record(
            source=source, items=items, strict=True, recorded_by=request.user.actor
        )
        return _answer(report)


class ProfileConsentsApi(APIView):
    # Evidence, notice and who recorded it: not for marketer or steward keys.
    permission_classes = [IsAuthenticated, scope_required("read", "dpo", personal_data=True)]

    @extend_schema(responses={200: ProfileConsentsSerializer})
    def get(self, request: Request, profile_id: uuid.UUID) -> Response:
        """Current state per purpose and full history, newest first; the read is audited."""
        data = profile_consents_view(profile_id=profile_id, actor=request.user.actor,
                                     purpose="api")
        return Response(ProfileConsentsSerializer(data, context={"now": data["now"]}).data)


class ConsentExportApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo", personal_data=True)]
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[ConsentExportQuerySerializer],
        responses=export_responses("entries"),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        """Consent proofs captured in a date range, streamed as CSV or JSON; audited."""
        query = ConsentExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        export = consents_export(
            filters=ConsentFilter(
                since=params.get("since"), until=params.get("until"),
                subject=params.get("subject"), purpose=params["purpose"],
            ),
            fmt=params["format"], actor=request.user.actor, via="api",
        )
        return streamed_file(export, name="consents")


class ProfileRestrictionApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo", personal_data=True)]

    def _change(self, request: Request, profile_id: uuid.UUID, *, restrict: bool) -> Response:
        data = RestrictionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = Profile.objects.get(pk=profile_id)
        change = profile_restrict if restrict else profile_unrestrict
        changed = change(profile=profile, actor=request.user.actor,
                         reason=data.validated_data["reason"])
        body = {"profile": profile.pk, "restricted_at": profile.restricted_at,
                "changed": changed}
        return Response(RestrictionOutputSerializer(body).data, status=status.HTTP_200_OK)

    @extend_schema(request=RestrictionInputSerializer,
                   responses={200: RestrictionOutputSerializer})
    def post(self, request: Request, profile_id: uuid.UUID) -> Response:
        """Restrict processing (GDPR Art. 18): out of every segment and destination."""
        return self._change(request, profile_id, restrict=True)

    @extend_schema(request=RestrictionInputSerializer,
                   responses={200: RestrictionOutputSerializer})
    def delete(self, request: Request, profile_id: uuid.UUID) -> Response:
        """Lift the restriction; segments take the profile back at once."""
        return self._change(request, profile_id, restrict=False)
