"""POST /api/v1/subjects/erasure: erase a data subject (GDPR Art. 17), for the DPO."""

from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.api.subject_views import SubjectNotFoundError, SubjectSerializer, subject_designated
from cdp.services.erasure import subject_erase


class ErasureSerializer(SubjectSerializer):
    reason = serializers.CharField(max_length=300)


class SubjectErasureApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo")]

    def post(self, request: Request) -> Response:
        """Erase every profile the designation finds; returns the register entry and counts.

        Destinations are told to delete after commit; their confirmations are tracked per
        destination by the connectors.
        """
        try:
            data, kind, profile_ids = subject_designated(request, ErasureSerializer)
        except SubjectNotFoundError as exc:
            return exc.response
        result = subject_erase(profile_ids=profile_ids, identified_by=kind,
                               actor=request.user.actor, reason=data["reason"])
        return Response(
            {"request": result.request.pk, "profiles": [str(p) for p in result.profiles],
             "counts": result.counts},
            status=status.HTTP_200_OK,
        )
