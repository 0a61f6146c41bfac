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


class SubjectNotFoundError(Exception):
    def __init__(self, response: Response):
        self.response = response


def subject_designated(request: Request, serializer: type[SubjectSerializer]) -> tuple:
    """(validated data, how designated, profile ids) of a subject request's body; raises
    ValidationError (400) or SubjectNotFoundError carrying the 404 response."""
    query = serializer(data=request.data)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    try:
        kind, profile_ids = subject_profiles(
            profile_id=data.get("profile_id"), email=data.get("email"), phone=data.get("phone"),
        )
    except SubjectNotFound as exc:
        raise SubjectNotFoundError(
            Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)) from exc
    return data, kind, profile_ids


class SubjectAccessApi(APIView):
    permission_classes = [IsAuthenticated, scope_required("dpo", personal_data=True)]

    def post(self, request: Request) -> HttpResponse:
        """Everything held about the subject as a ZIP (JSON + CSV); registered, audited."""
        try:
            data, kind, profile_ids = subject_designated(request, SubjectSerializer)
        except SubjectNotFoundError as exc:
            return exc.response
        archive = dsar_access(profile_ids=profile_ids, identified_by=kind,
                              actor=request.user.actor, reason=data["reason"])
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="subject-access.zip"'
        return response
