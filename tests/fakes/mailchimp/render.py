"""JSON shapes of Mailchimp resources, and `fields` / `exclude_fields` trimming.

Members carry the fields the spec lists (connector doc 1.3); stats, rating and location
are constants because nothing in the fake sends mail.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.mailchimp.store import Audience, Member, Segment, contact_id, unique_email_id


def member_json(audience: Audience, member: Member) -> dict[str, Any]:
    merge = member.merge_fields
    extra = member.extra
    tags = sorted(
        (audience.segments[t] for t in member.tags if t in audience.segments), key=lambda s: s.id
    )
    return {
        "id": member.id,
        "email_address": member.email_address,
        "unique_email_id": unique_email_id(member),
        "contact_id": contact_id(member),
        "full_name": f"{merge.get('FNAME', '')} {merge.get('LNAME', '')}".strip(),
        "web_id": member.web_id,
        "email_type": extra.get("email_type", "html"),
        "status": member.status,
        "merge_fields": dict(merge),
        "interests": dict(member.interests),
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": extra.get("ip_signup", ""),
        "timestamp_signup": member.timestamp_signup,
        "ip_opt": extra.get("ip_opt", ""),
        "timestamp_opt": extra.get("timestamp_opt", ""),
        "member_rating": 2,
        "last_changed": member.last_changed,
        "language": extra.get("language", ""),
        "vip": bool(extra.get("vip", False)),
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": "API - Generic",
        "tags_count": len(tags),
        "tags": [{"id": s.id, "name": s.name} for s in tags],
        "list_id": audience.id,
        "_links": [],
    }


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
