"""Admin of the segments app."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from segments.models import ProfileTraits


@admin.register(ProfileTraits)
class ProfileTraitsAdmin(admin.ModelAdmin):
    """Read-only: traits are derived from events and rewritten by every refresh."""

    list_display = [
        "profile", "purchase_count", "revenue_total", "last_purchase_at", "rfm_score",
        "computed_at",
    ]
    search_fields = ["profile__id"]
    # The table has a row per active profile: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
