"""Mailchimp member routes: batch subscribe, single upsert, archive, permanent delete, reads.

Faithful to the connector doc (1.2-1.4, 1.7, 1.8): `POST /lists/{id}` caps `members` at
500 and answers 200 with per-item `errors[]` (invalid emails, "Member Exists" when
`update_existing` is false, forgotten emails, duplicates unless `skip_duplicate_check`),
`sync_tags`; `PUT` is the idempotent upsert and `POST /members` is create-only; `DELETE`
archives (204) and `delete-permanent` forgets the email for good; reads page by
`count`/`offset` with `status` and `last_changed` filters and `fields` trimming.
Simplified: without `sort_field` members come in signup order; a count above the cap
answers 400 (the real behaviour is unconfirmed).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.mailchimp.render import member_fields_kept, member_json, trim
from tests.fakes.mailchimp.store import STATUSES, Audience, Member, MemberError, not_on_list

if TYPE_CHECKING:
    from tests.fakes.mailchimp.server import MailchimpFake

    _Base = MailchimpFake
else:
    _Base = object

MEMBER = r"/lists/(?P<list_id>[^/]+)/members/(?P<key>[^/]+)"


class MemberRoutes(_Base):
    def register_member_routes(self, api: str) -> None:
        self.add_route("GET", api + r"/lists", self._lists)
        self.add_route("GET", api + r"/lists/(?P<list_id>[^/]+)", self._list)
        self.add_route("POST", api + r"/lists/(?P<list_id>[^/]+)", self._batch_subscribe)
        self.add_route("GET", api + r"/lists/(?P<list_id>[^/]+)/members", self._members)
        self.add_route("POST", api + r"/lists/(?P<list_id>[^/]+)/members", self._create)
        self.add_route("GET", api + MEMBER, self._get)
        self.add_route("PUT", api + MEMBER, self._put)
        self.add_route("PATCH", api + MEMBER, self._patch)
        self.add_route("DELETE", api + MEMBER, self._archive)
        self.add_route("POST", api + MEMBER + r"/actions/delete-permanent", self._forget)

    # -- lists ------------------------------------------------------------------------
    def _list_json(self, audience: Audience) -> dict[str, Any]:
        counts = {s: 0 for s in ("subscribed", "unsubscribed", "cleaned")}
        for member in audience.members.values():
            if member.status in counts:
                counts[member.status] += 1
        return {
            "id": audience.id,
            "name": audience.name,
            "stats": {
                "member_count": counts["subscribed"],
                "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"],
            },
            "_links": [],
        }

    def _lists(self, request: Request) -> Response:
        audiences = list(self.account.audiences.values())
        lists = [self._list_json(a) for a in self.page(request, audiences)]
        payload = {"lists": lists, "total_items": len(audiences), "_links": []}
        return json_response(200, trim(payload, request.query))

    def _list(self, request: Request) -> Response:
        return json_response(200, trim(self._list_json(self.list_for(request)), request.query))

    # -- batch subscribe --------------------------------------------------------------
    def _batch_subscribe(self, request: Request) -> Response:
        audience = self.list_for(request)
        data = self.body(request)
        items = data.get("members")
        if not isinstance(items, list) or len(items) > self.batch_limit:
            raise Abort(
                self.problem(
                    request,
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated. For field-specific "
                    "details, see the 'errors' array.",
                    [
                        {
                            "field": "members",
                            "message": f"Schema describes an array of at most "
                            f"{self.batch_limit} items.",
                        }
                    ],
                )
            )
        new: list[Member] = []
        updated: list[Member] = []
        errors: list[dict[str, str]] = []
        seen: set[str] = set()
        for item in items:
            email = item.get("email_address") if isinstance(item, dict) else None
            key = email.lower() if isinstance(email, str) else ""
            if key and key in seen:
                if request.query.get("skip_duplicate_check") != "true":
                    errors.append(_item_error(email, f"{email} is a duplicate in this request."))
                continue
            seen.add(key)
            try:
                if not isinstance(item, dict):
                    raise MemberError("Invalid Resource", "Each member must be an object.")
                member, created = audience.upsert(
                    item,
                    update=bool(data.get("update_existing", False)),
                    skip_merge_validation=request.query.get("skip_merge_validation") == "true",
                )
            except MemberError as exc:
                errors.append(_item_error(email, exc.detail, exc))
                continue
            self._apply_tags(audience, member, item.get("tags"), sync=bool(data.get("sync_tags")))
            (new if created else updated).append(member)
        kept_new = member_fields_kept(request.query, "new_members")
        kept_updated = member_fields_kept(request.query, "updated_members")
        payload = {
            "new_members": [member_json(audience, m, kept_new) for m in new],
            "updated_members": [member_json(audience, m, kept_updated) for m in updated],
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
            "_links": [],
        }
        return json_response(200, trim(payload, request.query))

    @staticmethod
    def _apply_tags(audience: Audience, member: Member, tags: Any, *, sync: bool) -> None:
        names = {t for t in tags or [] if isinstance(t, str)}
        if sync:
            for segment_id in list(member.tags):
                if audience.segments[segment_id].name not in names:
                    audience.tag(member, audience.segments[segment_id].name, active=False)
        for name in sorted(names):
            audience.tag(member, name, active=True)

    # -- one member -------------------------------------------------------------------
    def _member(self, request: Request, audience: Audience) -> Member:
        member = audience.find(request.params["key"])
        if member is None:
            raise self.refuse(request, not_on_list())
        return member

    def _get(self, request: Request) -> Response:
        audience = self.list_for(request)
        member = self._member(request, audience)
        return json_response(200, trim(member_json(audience, member), request.query))

    def _write(self, request: Request, **options: Any) -> Response:
        audience = self.list_for(request)
        data = self.body(request)
        try:
            member, _ = audience.upsert(
                data,
                skip_merge_validation=request.query.get("skip_merge_validation") == "true",
                **options,
            )
        except MemberError as exc:
            raise self.refuse(request, exc) from exc
        if "tags" in data and request.method == "POST":
            self._apply_tags(audience, member, data["tags"], sync=False)
        return json_response(200, member_json(audience, member))

    def _create(self, request: Request) -> Response:
        return self._write(request, update=False)

    def _put(self, request: Request) -> Response:
        return self._write(request, path_key=request.params["key"])

    def _patch(self, request: Request) -> Response:
        return self._write(request, path_key=request.params["key"], create=False)

    def _archive(self, request: Request) -> Response:
        audience = self.list_for(request)
        member = self._member(request, audience)
        if member.status == "archived":
            raise self.refuse(request, not_on_list())
        audience.archive(member)
        return Response(204)

    def _forget(self, request: Request) -> Response:
        audience = self.list_for(request)
        audience.delete_permanent(self._member(request, audience))
        return Response(204)

    # -- read-back --------------------------------------------------------------------
    def _members(self, request: Request) -> Response:
        audience = self.list_for(request)
        members = self._filtered(request, list(audience.members.values()))
        page = self.page(request, members)
        payload = {
            "members": [member_json(audience, m) for m in page],
            "list_id": audience.id,
            "total_items": len(members),
            "_links": [],
        }
        return json_response(200, trim(payload, request.query))

    def _filtered(self, request: Request, members: list[Member]) -> list[Member]:
        query = request.query
        status = query.get("status")
        if status:
            if status not in STATUSES | {"archived"}:
                raise self.refuse(request, MemberError("Invalid Resource", "Invalid status."))
            members = [m for m in members if m.status == status]
        since = self._moment(request, "since_last_changed")
        before = self._moment(request, "before_last_changed")
        if since or before:
            members = [
                m
                for m in members
                if (since is None or datetime.fromisoformat(m.last_changed) > since)
                and (before is None or datetime.fromisoformat(m.last_changed) < before)
            ]
        field = query.get("sort_field")
        if field in ("timestamp_opt", "timestamp_signup", "last_changed"):
            members.sort(
                key=lambda m: getattr(m, field, "") or m.extra.get(field, ""),
                reverse=query.get("sort_dir") == "DESC",
            )
        return members  # otherwise in signup order, as the audience holds them

    def _moment(self, request: Request, name: str) -> datetime | None:
        raw = request.query.get(name)
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw.replace(" ", "+"))
        except ValueError:
            raise self.refuse(
                request, MemberError("Invalid Resource", f"Invalid {name}.")
            ) from None
        if moment.tzinfo is None:
            raise self.refuse(request, MemberError("Invalid Resource", f"{name} needs a zone."))
        return moment


def _item_error(email: Any, message: str, exc: MemberError | None = None) -> dict[str, str]:
    field_message = exc.errors[0]["message"] if exc and exc.errors else message
    return {
        "email_address": email if isinstance(email, str) else "",
        "error": message,
        "error_code": exc.error_code if exc else "ERROR_GENERIC",
        "field": exc.field if exc else "email_address",
        "field_message": field_message,
    }
