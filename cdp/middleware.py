"""Request context for the audit log: a request id and the truncated client IP.

Audit rows written while a request is served carry both (cdp.audit reads them from a
contextvar), and the response echoes X-Request-ID so a caller can quote it. Audit rows of
reads sent ahead (cdp.audit_reads) are confirmed here: an answer whose read could not be
audited is replaced by a 500.
"""

import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from cdp.audit import audit_context
from cdp.audit_reads import AuditNotDurable, audited_reads, reads_durable

logger = logging.getLogger(__name__)

# A caller's own id is kept only if it is short and plain (it ends up in logs and CSVs).
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def request_id_of(request: HttpRequest) -> str:
    given = request.headers.get("X-Request-ID", "").strip()
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the X-Forwarded-For entry added by the outermost trusted proxy.

    Entries left of that one are written by the client and could be anything, so they
    are used only when settings.CDP_TRUSTED_PROXY_COUNT says how many proxies we run.
    """
    trusted = settings.CDP_TRUSTED_PROXY_COUNT
    if trusted > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= trusted:
            return hops[-trusted]
    return request.META.get("REMOTE_ADDR", "")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_of(request)
        request.request_id = request_id
        with audit_context(request_id=request_id, ip=client_ip(request)), \
                audited_reads() as pending:
            response = self.get_response(request)
            try:
                reads_durable(pending)
            except AuditNotDurable as exc:
                logger.error("request %s: answer withheld, %s", request_id, exc)
                response.close()
                response = JsonResponse(
                    {"detail": "The read could not be recorded in the audit log, so "
                               "nothing was returned. Try again."}, status=500)
        response["X-Request-ID"] = request_id
        return response
