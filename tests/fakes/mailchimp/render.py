"""JSON shapes of Mailchimp resources, and `fields` / `exclude_fields` trimming.

Members carry the fields the spec lists (connector doc 1.3); stats, rating and location
are constants because nothing in the fake sends mail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.mailchimp.store import Audience, Member, Segment, contact_id, unique_email_id


def _tags(audience: Audience, member: Member) -> list[Segment]:
    return sorted(
        (audience.segments[t] for t in member.tags if t in audience.segments), key=lambda s: s.id
    )


def _full_name(member: Member) -> str:
    merge = member.merge_fields
    return f"{merge.get('FNAME', '')} {merge.get('LNAME', '')}".strip()


# Each field of a member record, computed only when the response keeps it (`fields`).
_MEMBER_FIELDS: dict[str, Callable[[Audience, Member], Any]] = {
    "id": lambda a, m: m.id,
    "email_address": lambda a, m: m.email_address,
    "unique_email_id": lambda a, m: unique_email_id(m),
    "contact_id": lambda a, m: contact_id(m),
    "full_name": lambda a, m: _full_name(m),
    "web_id": lambda a, m: m.web_id,
    "email_type": lambda a, m: m.extra.get("email_type", "html"),
    "status": lambda a, m: m.status,
    "merge_fields": lambda a, m: dict(m.merge_fields),
    "interests": lambda a, m: dict(m.interests),
    "stats": lambda a, m: {"avg_open_rate": 0, "avg_click_rate": 0},
    "ip_signup": lambda a, m: m.extra.get("ip_signup", ""),
    "timestamp_signup": lambda a, m: m.timestamp_signup,
    "ip_opt": lambda a, m: m.extra.get("ip_opt", ""),
    "timestamp_opt": lambda a, m: m.extra.get("timestamp_opt", ""),
    "member_rating": lambda a, m: 2,
    "last_changed": lambda a, m: m.last_changed,
    "language": lambda a, m: m.extra.get("language", ""),
    "vip": lambda a, m: bool(m.extra.get("vip", False)),
    "email_client": lambda a, m: "",
    "location": lambda a, m: {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
    "source": lambda a, m: "API - Generic",
    "tags_count": lambda a, m: len(_tags(a, m)),
    "tags": lambda a, m: [{"id": s.id, "name": s.name} for s in _tags(a, m)],
    "list_id": lambda a, m: a.id,
    "_links": lambda a, m: [],
}


def member_json(
    audience: Audience, member: Member, only: frozenset[str] | None = None
) -> dict[str, Any]:
    """A member record; `only`: just these top-level fields (see member_fields_kept)."""
    return {
        name: field(audience, member)
        for name, field in _MEMBER_FIELDS.items()
        if only is None or name in only
    }


def member_fields_kept(query: dict[str, str], collection: str) -> frozenset[str] | None:
    """The member fields a `fields` parameter keeps under `collection` (None: all)."""
    kept = set()
    for path in _paths(query.get("fields", "")):
        if path[0] == collection:
            if len(path) == 1:
                return None
            kept.add(path[1])
    return frozenset(kept) if query.get("fields") else None


def segment_json(audience: Audience, segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "member_count": len(audience.segment_members(segment.id)),
        "type": segment.type,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
        "options": {},
        "list_id": audience.id,
        "_links": [],
    }


def trim(payload: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Apply `fields` then `exclude_fields` (comma-separated, dot notation) to a response."""
    if query.get("fields"):
        payload = _keep(payload, _paths(query["fields"]))
    for path in _paths(query.get("exclude_fields", "")):
        _drop(payload, path)
    return payload


def _paths(spec: str) -> list[list[str]]:
    return [part.strip().split(".") for part in spec.split(",") if part.strip()]


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        rests = [path[1:] for path in paths if path[0] == key]
        if rests:
            kept[key] = item if any(not rest for rest in rests) else _keep(item, rests)
    return kept


def _drop(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _drop(item, path)
    elif isinstance(value, dict) and path[0] in value:
        if len(path) == 1:
            del value[path[0]]
        else:
            _drop(value[path[0]], path[1:])
