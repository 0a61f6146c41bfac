"""One exception handler mapping domain errors to HTTP answers."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler


class BatchRejected(Exception):
    """The whole request is unusable (shape, size, unknown source): 400, nothing stored."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("batch rejected")
        self.errors = errors


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, BatchRejected):
        return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ObjectDoesNotExist):
        return Response({"detail": "not found"}, status=status.HTTP_404_NOT_FOUND)
    return drf_handler(exc, context)
