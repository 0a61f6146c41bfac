"""HubSpot lists v3 routes: create, look up by id or name, membership writes and reads.

Faithful to the connector doc (2.5): `POST /crm/v3/lists/` creates MANUAL, SNAPSHOT or
DYNAMIC lists and answers `{"list": {...}}`; lookup by name under
`/object-type-id/0-1/name/{name}` (404 when absent); membership writes take record ids
only (strings or numbers), ignore repeats and ids already in (or not in) the list, list
unknown ones in `recordIdsMissing`, answer with HubSpot's spelling `recordsIdsAdded`, and
refuse DYNAMIC lists (400); `GET /memberships` pages ascending by record id with an
opaque `after` cursor, `limit` at most 250 (default 100), and `total`.
Our choices: an optional per-request cap on membership ids (`membership_limit`, off by
default: HubSpot's is unconfirmed); a limit above 250 answers 400; `before` paging and
`join-order` are not served.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Request, Response, json_response
from tests.fakes.hubspot.errors import hs_error
from tests.fakes.hubspot.store import HsList, PortalError

if TYPE_CHECKING:
    from tests.fakes.hubspot.server import HubspotFake

    _Base = HubspotFake
else:
    _Base = object

LISTS = r"/crm/(?:v3/lists|lists/\d{4}-\d{2})"
LIST = LISTS + r"/(?P<list_id>\d+)"


def list_json(hs_list: HsList, size: int) -> dict[str, Any]:
    return {
        "listId": str(hs_list.id),
        "listVersion": hs_list.version,
        "name": hs_list.name,
        "objectTypeId": hs_list.object_type_id,
        "processingType": hs_list.processing_type,
        "processingStatus": "COMPLETE",
        "createdAt": hs_list.created_at,
        "updatedAt": hs_list.updated_at,
        "size": size,
    }


def _cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"rid:{record_id}".encode()).decode().rstrip("=")


def _uncursor(after: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(text[4:]) if text.startswith("rid:") and text[4:].isdigit() else None


class ListRoutes(_Base):
    def register_list_routes(self) -> None:
        self.add_route("POST", LISTS + r"/?", self._list_new)
        self.add_route("GET", LISTS + r"/object-type-id/(?P<type>[^/]+)/name/(?P<name>[^/]+)",
                       self._by_name)
        self.add_route("GET", LIST, self._list_get)
        self.add_route("DELETE", LIST, self._list_delete)
        self.add_route("PUT", LIST + r"/memberships/add", self._add)
        self.add_route("PUT", LIST + r"/memberships/remove", self._remove)
        self.add_route("PUT", LIST + r"/memberships/add-and-remove", self._add_and_remove)
        self.add_route("GET", LIST + r"/memberships", self._memberships)
        self.add_route("DELETE", LIST + r"/memberships", self._clear)
        self.add_route("GET", LISTS + r"/records/(?P<type>[^/]+)/(?P<record_id>\d+)/memberships",
                       self._record_lists)

    def _list(self, request: Request) -> HsList:
        hs_list = self.portal.lists.get(int(request.params["list_id"]))
        if hs_list is None:
            raise self.refuse(PortalError(404, "OBJECT_NOT_FOUND",
                                          f"List {request.params['list_id']} does not exist."))
        return hs_list

    def _json(self, hs_list: HsList) -> dict[str, Any]:
        return list_json(hs_list, len(self.portal.members(hs_list)))

    def _list_new(self, request: Request) -> Response:
        data = self.body(request)
        try:
            hs_list = self.portal.list_create(data.get("name"), data.get("processingType"),
                                              data.get("objectTypeId"))
        except PortalError as exc:
            raise self.refuse(exc) from exc
        return json_response(200, {"list": self._json(hs_list)})

    def _by_name(self, request: Request) -> Response:
        hs_list = self.portal.list_by_name(request.params["name"], request.params["type"])
        if hs_list is None:
            return hs_error(404, f"List with name {request.params['name']} does not exist.",
                            category="OBJECT_NOT_FOUND")
        return json_response(200, {"list": self._json(hs_list)})

    def _list_get(self, request: Request) -> Response:
        return json_response(200, {"list": self._json(self._list(request))})

    def _list_delete(self, request: Request) -> Response:
        del self.portal.lists[self._list(request).id]
        return Response(204)

    # -- membership writes ------------------------------------------------------------------
    def _writable(self, request: Request) -> HsList:
        hs_list = self._list(request)
        if not hs_list.writable:
            raise self.refuse(PortalError(
                400, "VALIDATION_ERROR",
                f"List {hs_list.id} is a {hs_list.processing_type} list: memberships can only "
                "be changed on MANUAL or SNAPSHOT lists."))
        return hs_list

    def _ids(self, value: Any) -> list[int]:
        ok = isinstance(value, list) and all(
            (isinstance(v, str) and v.isdigit()) or (isinstance(v, int) and v >= 0
                                                      and not isinstance(v, bool))
            for v in value)
        if not ok:
            raise self.refuse(PortalError(400, "VALIDATION_ERROR",
                                          "Expected an array of record ids"))
        if self.membership_limit is not None and len(value) > self.membership_limit:
            raise self.refuse(PortalError(
                400, "VALIDATION_ERROR",
                f"At most {self.membership_limit} record ids are accepted per request"))
        return [int(v) for v in value]

    def _change(self, hs_list: HsList, add: list[int], remove: list[int]) -> Response:
        added, removed, missing = self.portal.members_change(hs_list, add, remove)
        return json_response(200, {"recordsIdsAdded": [str(i) for i in added],
                                   "recordIdsRemoved": [str(i) for i in removed],
                                   "recordIdsMissing": [str(i) for i in missing]})

    def _add(self, request: Request) -> Response:
        hs_list = self._writable(request)
        return self._change(hs_list, self._ids(request.json()), [])

    def _remove(self, request: Request) -> Response:
        hs_list = self._writable(request)
        return self._change(hs_list, [], self._ids(request.json()))

    def _add_and_remove(self, request: Request) -> Response:
        hs_list = self._writable(request)
        data = self.body(request)
        return self._change(hs_list, self._ids(data.get("recordIdsToAdd", [])),
                            self._ids(data.get("recordIdsToRemove", [])))

    def _clear(self, request: Request) -> Response:
        hs_list = self._writable(request)
        self.portal.members_change(hs_list, [], list(hs_list.members))
        return Response(204)

    # -- membership reads -------------------------------------------------------------------
    def _memberships(self, request: Request) -> Response:
        hs_list = self._list(request)
        try:
            limit = int(request.query.get("limit", 100))
        except ValueError:
            limit = -1
        after = request.query.get("after")
        start = _uncursor(after) if after else 0
        if not 1 <= limit <= self.list_page_limit or start is None:
            raise self.refuse(PortalError(
                400, "VALIDATION_ERROR",
                f"limit must be between 1 and {self.list_page_limit}; after must be a cursor "
                "from paging.next.after"))
        members = self.portal.members(hs_list)
        page = [i for i in members if i > start][:limit]
        payload: dict[str, Any] = {
            "results": [{"recordId": str(i), "membershipTimestamp": hs_list.members[i]}
                        for i in page],
            "total": len(members),
        }
        if page and page[-1] != members[-1]:
            cursor = _cursor(page[-1])
            payload["paging"] = {"next": {"after": cursor,
                                          "link": f"{self.url}{request.path}?after={cursor}"}}
        return json_response(200, payload)

    def _record_lists(self, request: Request) -> Response:
        record_id = int(request.params["record_id"])
        found = [{"listId": str(x.id), "listVersion": x.version,
                  "firstAddedTimestamp": x.members[record_id],
                  "lastAddedTimestamp": x.members[record_id]}
                 for x in self.portal.lists.values()
                 if record_id in x.members and x.object_type_id == request.params["type"]]
        return json_response(200, {"results": found, "total": len(found)})
