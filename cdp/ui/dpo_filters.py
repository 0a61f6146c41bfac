"""List filters of the DPO's ledger and audit log (unfold.contrib.filters widgets)."""

import datetime as dt
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from unfold.contrib.filters.admin import DropdownFilter, RangeDateFilter

from cdp.models import AuditEvent, Purpose


def parse_day(text: str) -> dt.date | None:
    """A date as the user's language writes it (31/12/2026 in French) or ISO."""
    for fmt in (*formats.get_format("DATE_INPUT_FORMATS"), "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 (a date)
        except ValueError:
            continue
    return None


class DayRangeFilter(RangeDateFilter):
    """From / to whole local days, both included, on a date-time field. (Unfold's own
    compares a date-time with midnight, dropping the last day, and ignores the locale.)"""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        bounds: dict[str, Any] = {}
        for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
            text = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if not text:
                continue
            day = parse_day(str(text))
            if day is None:
                raise IncorrectLookupParameters(f"{self.parameter_name}{suffix}")
            bounds[f"{self.field_path}__date__{lookup}"] = day
        return queryset.filter(**bounds)


class ActionFilter(DropdownFilter):
    """The audit actions that occur in the log."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        actions = (AuditEvent.objects.order_by("action").values_list("action", flat=True)
                   .distinct())
        return [(action, action) for action in actions]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


class PurposeFilter(DropdownFilter):
    """Purposes by name (Purpose rows), and any slug found in the ledger only."""

    title = _("purpose")
    parameter_name = "purpose"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(p.slug, f"{p.name} ({p.slug})") for p in Purpose.objects.order_by("name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(purpose=self.value()) if self.value() else queryset


def titled(base: type, title: Any) -> type:
    """`base` (a field list filter) under another title than the field's verbose name,
    which Django sets in __init__ (so a class attribute would not do)."""

    class Titled(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    Titled.__name__ = f"Titled{base.__name__}"
    return Titled
