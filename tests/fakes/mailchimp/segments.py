"""Mailchimp tag routes: static segments, batch add/remove, per-member tags, tag members.

Faithful to the connector doc (1.6, 1.8): tags are static segments with integer ids;
`POST /segments/{id}` takes at most 500 emails in each of `members_to_add` and
`members_to_remove` (else 400) and ignores emails not on the audience; per-member
`POST /members/{hash}/tags` answers 204 and creates a tag set active; tag members page
by `count`/`offset` and hide cleaned, transactional and unsubscribed members unless asked.
Our choices where the vendor is unconfirmed: emails not on the audience are listed in
`errors[{email_addresses, error}]`; `members_added` lists every found member, already
tagged or not, so a retried call answers the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.mailchimp.render import member_json, segment_json, trim
from tests.fakes.mailchimp.store import Audience, MemberError, Segment, iso, not_on_list

if TYPE_CHECKING:
    from tests.fakes.mailchimp.server import MailchimpFake

    _Base = MailchimpFake
else:
    _Base = object

LIST = r"/lists/(?P<list_id>[^/]+)"
SEGMENT = LIST + r"/segments/(?P<segment_id>[^/]+)"


class SegmentRoutes(_Base):
    def register_segment_routes(self, api: str) -> None:
        self.add_route("GET", api + LIST + r"/segments", self._segments)
        self.add_route("POST", api + LIST + r"/segments", self._segment_create)
        self.add_route("GET", api + LIST + r"/tag-search", self._tag_search)
        self.add_route("GET", api + SEGMENT, self._segment)
        self.add_route("PATCH", api + SEGMENT, self._segment_update)
        self.add_route("DELETE", api + SEGMENT, self._segment_delete)
        self.add_route("POST", api + SEGMENT, self._segment_batch)
        self.add_route("GET", api + SEGMENT + r"/members", self._segment_members)
        self.add_route("POST", api + SEGMENT + r"/members", self._segment_member_add)
        member = SEGMENT + r"/members/(?P<key>[^/]+)"
        self.add_route("DELETE", api + member, self._segment_member_remove)
        member_tags = LIST + r"/members/(?P<key>[^/]+)/tags"
        self.add_route("GET", api + member_tags, self._member_tags)
        self.add_route("POST", api + member_tags, self._member_tags_set)

    def _segment_for(self, request: Request, audience: Audience) -> Segment:
        segment_id = request.params["segment_id"]
        segment = audience.segments.get(int(segment_id)) if segment_id.isdigit() else None
        if segment is None:
            raise self.refuse(request, not_on_list())
        return segment

    def _segments(self, request: Request) -> Response:
        audience = self.list_for(request)
        kind = request.query.get("type")
        segments = [s for s in audience.segments.values() if kind in (None, s.type)]
        payload = {
            "segments": [segment_json(audience, s) for s in self.page(request, segments)],
            "list_id": audience.id,
            "total_items": len(segments),
            "_links": [],
        }
        return json_response(200, trim(payload, request.query))

    def _segment_create(self, request: Request) -> Response:
        audience = self.list_for(request)
        data = self.body(request)
        try:
            segment = audience.segment_create(data.get("name"))
        except MemberError as exc:
            raise self.refuse(request, exc) from exc
        self._replace_members(request, audience, segment, data.get("static_segment") or [])
        return json_response(200, segment_json(audience, segment))

    def _segment_update(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        data = self.body(request)
        if data.get("name") and data["name"] != segment.name:
            if audience.segment_by_name(data["name"]):
                raise self.refuse(
                    request, MemberError("Invalid Resource", "Sorry, that tag already exists.")
                )
            segment.name = data["name"]
        if "static_segment" in data:
            self._replace_members(request, audience, segment, data["static_segment"] or [])
        segment.updated_at = iso(self.account.clock())
        return json_response(200, segment_json(audience, segment))

    def _replace_members(
        self, request: Request, audience: Audience, segment: Segment, emails: Any
    ) -> None:
        wanted = {m.id for m in self._found(request, audience, emails)[0]}
        for member in audience.members.values():
            audience.tag(member, segment.name, active=member.id in wanted)

    def _segment(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        return json_response(200, trim(segment_json(audience, segment), request.query))

    def _segment_delete(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        for member in audience.members.values():
            member.tags.discard(segment.id)
        del audience.segments[segment.id]
        return Response(204)

    def _found(self, request: Request, audience: Audience, emails: Any) -> tuple[list, list[str]]:
        if not isinstance(emails, list) or len(emails) > self.batch_limit:
            raise Abort(
                self.problem(
                    request,
                    400,
                    "Invalid Resource",
                    f"You may only add or remove up to {self.batch_limit} members at once.",
                )
            )
        found, missing = [], []
        for email in emails:
            member = audience.find(email) if isinstance(email, str) and "@" in email else None
            if member is None or member.status == "archived":
                missing.append(str(email))
            else:
                found.append(member)
        return found, missing

    def _segment_batch(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        data = self.body(request)
        to_add, missing_add = self._found(request, audience, data.get("members_to_add", []))
        to_remove, missing_rm = self._found(request, audience, data.get("members_to_remove", []))
        for member in to_add:
            audience.tag(member, segment.name, active=True)
        removed = [m for m in to_remove if segment.id in m.tags]
        for member in removed:
            audience.tag(member, segment.name, active=False)
        errors = []
        if missing_add or missing_rm:
            errors.append(
                {
                    "email_addresses": missing_add + missing_rm,
                    "error": "Email addresses are not members of this audience.",
                }
            )
        payload = {
            "members_added": [member_json(audience, m) for m in to_add],
            "members_removed": [member_json(audience, m) for m in removed],
            "errors": errors,
            "total_added": len(to_add),
            "total_removed": len(removed),
            "error_count": sum(len(e["email_addresses"]) for e in errors),
            "_links": [],
        }
        return json_response(200, payload)

    def _segment_members(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        hidden = {
            status
            for status in ("cleaned", "transactional", "unsubscribed")
            if request.query.get(f"include_{status}") != "true"
        }
        members = [m for m in audience.segment_members(segment.id) if m.status not in hidden]
        members.sort(key=lambda m: m.web_id)
        payload = {
            "members": [member_json(audience, m) for m in self.page(request, members)],
            "total_items": len(members),
            "_links": [],
        }
        return json_response(200, trim(payload, request.query))

    def _segment_member_add(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        found, _ = self._found(request, audience, [self.body(request).get("email_address")])
        if not found:
            raise self.refuse(request, not_on_list())
        audience.tag(found[0], segment.name, active=True)
        return json_response(200, member_json(audience, found[0]))

    def _segment_member_remove(self, request: Request) -> Response:
        audience = self.list_for(request)
        segment = self._segment_for(request, audience)
        member = audience.find(request.params["key"])
        if member is None or segment.id not in member.tags:
            raise self.refuse(request, not_on_list())
        audience.tag(member, segment.name, active=False)
        return Response(204)

    def _tag_search(self, request: Request) -> Response:
        audience = self.list_for(request)
        needle = request.query.get("name", "").lower()
        tags = [
            {"id": s.id, "name": s.name}
            for s in audience.segments.values()
            if s.type == "static" and needle in s.name.lower()
        ]
        return json_response(200, {"tags": tags, "total_items": len(tags)})

    def _member_tags(self, request: Request) -> Response:
        audience = self.list_for(request)
        member = audience.find(request.params["key"])
        if member is None:
            raise self.refuse(request, not_on_list())
        tags = [
            {"id": s.id, "name": s.name, "date_added": s.updated_at}
            for s in sorted((audience.segments[t] for t in member.tags), key=lambda s: s.id)
        ]
        return json_response(200, {"tags": tags, "total_items": len(tags), "_links": []})

    def _member_tags_set(self, request: Request) -> Response:
        audience = self.list_for(request)
        member = audience.find(request.params["key"])
        if member is None or member.status == "archived":
            raise self.refuse(request, not_on_list())
        tags = self.body(request).get("tags")
        if not isinstance(tags, list) or not all(
            isinstance(t, dict) and t.get("name") and t.get("status") in ("active", "inactive")
            for t in tags
        ):
            raise self.refuse(
                request,
                MemberError("Invalid Resource", "tags must be [{name, status: active|inactive}]."),
            )
        for tag in tags:
            audience.tag(member, tag["name"], active=tag["status"] == "active")
        return Response(204)
