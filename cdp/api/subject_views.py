"""POST /api/v1/subjects/access: a data subject's archive for the DPO."""

from django.http import HttpResponse
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from cdp.services.dsar import SubjectNotFound, dsar_access, subject_profiles


class SubjectSerializer(serializers.Serializer):
    profile_id = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    reason = serializers.CharField(required=False, default="", max_length=300)

    def validate(self, data: dict) -> dict:
        if sum(bool(data.get(k)) for k in ("profile_id", "email", "phone")) != 1:
            raise serializers.ValidationError("give exactly one of profile_id, email, phone")
        return data


class SubjectAccessApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo")]

    def post(self, request: Request) -> HttpResponse:
        """Everything held about the subject as a ZIP (JSON + CSV); registered, audited."""
        query = SubjectSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            kind, profile_ids = subject_profiles(
                profile_id=data.get("profile_id"), email=data.get("email"),
                phone=data.get("phone"),
            )
        except SubjectNotFound as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
        archive = dsar_access(profile_ids=profile_ids, identified_by=kind,
                              actor=request.user.actor, reason=data["reason"])
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="subject-access.zip"'
        return response
