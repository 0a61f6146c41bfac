"""HubSpot contact routes: batch upsert / read / archive, GDPR delete, single reads, paging.

Faithful to the connector doc (2.3, 2.4, 2.6, 2.7): `batch/upsert` needs
`idProperty: "email"` (another existing property is "non-unique", 400), caps `inputs` at
100, refuses duplicate ids whole (`context.ids`), and refuses the whole request on one
bad input **unless every input has an `objectWriteTraceId`**: then it answers 207 with
one error per bad input (the trace id in `context.objectWriteTraceId`) and writes the
valid ones. Results come back in a shuffled (seeded) order with the `new` flag.
`batch/read` answers 207 with OBJECT_NOT_FOUND for ids it cannot find; `GET /contacts`
pages by `after` (limit at most 100). `DELETE` and `batch/archive` archive (204);
`gdpr-delete` removes for good and blocklists the email, also an unknown one;
`GET /crm/v3/properties/contacts` lists the portal's properties (`hubspotDefined`).
The date-versioned prefix (`/crm/objects/2026-03/contacts`) is served like `/crm/v3/...`.
Our choices: `idProperty` missing on upsert, `limit` above the cap and repeated trace ids
answer 400 VALIDATION_ERROR; archiving an unknown id answers 204.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakes.base import Request, Response, json_response
from tests.fakes.hubspot.errors import hs_error, item_error
from tests.fakes.hubspot.store import (
    DEFAULT_PROPERTIES,
    READ_ONLY,
    Contact,
    PortalError,
    invalid_properties,
)

if TYPE_CHECKING:
    from tests.fakes.hubspot.server import HubspotFake

    _Base = HubspotFake
else:
    _Base = object

OBJECTS = r"/crm/(?:v3/objects|objects/\d{4}-\d{2})/contacts"


def _bad(message: str, **context: list[str]) -> PortalError:
    return PortalError(400, "VALIDATION_ERROR", message, context=context or None)


class ContactRoutes(_Base):
    def register_contact_routes(self) -> None:
        self.add_route("POST", OBJECTS + r"/batch/upsert", self._batch_upsert)
        self.add_route("POST", OBJECTS + r"/batch/read", self._batch_read)
        self.add_route("POST", OBJECTS + r"/batch/archive", self._batch_archive)
        self.add_route("POST", OBJECTS + r"/gdpr-delete", self._gdpr_delete)
        self.add_route("GET", OBJECTS, self._page)
        self.add_route("GET", OBJECTS + r"/(?P<key>[^/]+)", self._get)
        self.add_route("DELETE", OBJECTS + r"/(?P<key>[^/]+)", self._archive)
        self.add_route("GET", r"/crm/v3/properties/contacts", self._properties)

    def _inputs(self, data: dict[str, Any], limit: int) -> list[Any]:
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise self.refuse(_bad("inputs is required and must be an array"))
        if len(inputs) > limit:
            raise self.refuse(_bad(f"The maximum number of inputs supported in a batch is "
                                   f"{limit}. Please reduce the number of items and try again."))
        return inputs

    # -- batch upsert ---------------------------------------------------------------------
    def _batch_upsert(self, request: Request) -> Response:
        started = self.portal.now()
        inputs = self._inputs(self.body(request), self.batch_limit)
        parsed = [self._upsert_input(item) for item in inputs]
        self._no_duplicates(parsed)
        traces = [trace for _, _, trace in parsed]
        multi_status = bool(parsed) and all(traces)
        if multi_status and len(set(traces)) != len(traces):
            raise self.refuse(_bad("objectWriteTraceId values must be unique in a batch"))
        checked = [(email, props, trace, self.portal.problems(email, props))
                   for email, props, trace in parsed]
        if not multi_status:
            problems = [p for *_, found in checked for p in found]
            if problems:  # one bad input fails the whole request, nothing is written
                raise self.refuse(invalid_properties(problems))
        results, errors = [], []
        for email, props, trace, found in checked:
            if found:
                errors.append(item_error(invalid_properties(found), trace))
                continue
            contact, created = self.portal.upsert(email, props)
            result = contact.render(["email", *props])
            result["new"] = created
            if trace:
                result["objectWriteTraceId"] = trace
            results.append(result)
        self.shuffler.shuffle(results)
        return self._batch_answer(results, errors, started)

    def _upsert_input(self, item: Any) -> tuple[str, Any, str]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise self.refuse(_bad("Each input needs an id (a string)"))
        id_property = item.get("idProperty")
        if id_property is None:
            raise self.refuse(_bad("idProperty is required to upsert (e.g. email)"))
        if id_property != "email":
            if id_property not in self.portal.properties:
                raise self.refuse(_bad(f'Property "{id_property}" does not exist'))
            raise self.refuse(_bad(f"Unable to perform update/upsert by non-unique "
                                   f"0-1 property: {id_property}"))
        trace = item.get("objectWriteTraceId")
        trace = trace if isinstance(trace, str) and trace else ""
        return item["id"].strip().lower(), item.get("properties") or {}, trace

    def _no_duplicates(self, parsed: list[tuple[str, Any, str]]) -> None:
        seen: set[str] = set()
        duplicates: list[str] = []
        for email, _, _ in parsed:
            if email in seen and email not in duplicates:
                duplicates.append(email)
            seen.add(email)
        if duplicates:
            raise self.refuse(_bad(f"Duplicate IDs found in batch input: "
                                   f"[{', '.join(duplicates)}]. IDs must be unique",
                                   ids=duplicates))

    def _batch_answer(self, results: list[dict], errors: list[dict], started: str) -> Response:
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                   "requestedAt": started, "startedAt": started,
                                   "completedAt": self.portal.now(), "links": {}}
        if errors:
            payload.update(numErrors=len(errors), errors=errors)
        return json_response(207 if errors else 200, payload)

    # -- reads ----------------------------------------------------------------------------
    def _find(self, key: str, id_property: str | None, *, archived: bool) -> Contact | None:
        if id_property == "email":
            return self.portal.find_email(key)
        if not key.isdigit():
            return None
        contact = self.portal.contacts.get(int(key))
        if contact is None or contact.archived != archived:
            return None
        return contact

    def _id_property(self, value: Any) -> str | None:
        if value in (None, "", "hs_object_id"):
            return None
        if value == "email":
            return "email"
        raise self.refuse(_bad(f"Unable to read by non-unique 0-1 property: {value}"))

    def _batch_read(self, request: Request) -> Response:
        started = self.portal.now()
        data = self.body(request)
        limit = 50 if data.get("propertiesWithHistory") else self.batch_limit
        inputs = self._inputs(data, limit)
        id_property = self._id_property(data.get("idProperty"))
        requested = data.get("properties") or None
        archived = request.query.get("archived") == "true"
        results, missing = [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            contact = self._find(key, id_property, archived=archived)
            if contact is None:
                missing.append(key)
            else:
                results.append(contact.render(requested))
        self.shuffler.shuffle(results)
        errors = []
        if missing:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": "Could not get some CONTACT objects, they may be deleted "
                                      "or not exist. Check that ids are valid.",
                           "context": {"ids": missing}, "errors": [], "links": {}})
        return self._batch_answer(results, errors, started)

    def _get(self, request: Request) -> Response:
        key = request.params["key"]
        contact = self._find(key, self._id_property(request.query.get("idProperty")),
                             archived=request.query.get("archived") == "true")
        if contact is None:
            return hs_error(404, "Object not found.  objectId are usually numeric.",
                            category="OBJECT_NOT_FOUND", context={"id": [key]})
        return json_response(200, contact.render(_names(request.query.get("properties"))))

    def _page(self, request: Request) -> Response:
        try:
            limit = int(request.query.get("limit", 10))
            after = int(request.query.get("after", 0))
        except ValueError:
            limit = after = -1
        if not 1 <= limit <= self.page_limit or after < 0:
            raise self.refuse(_bad(f"limit must be between 1 and {self.page_limit}; after "
                                   "must be a cursor from paging.next.after"))
        archived = request.query.get("archived") == "true"
        ids = sorted(i for i, c in self.portal.contacts.items()
                     if c.archived == archived and i >= after)
        requested = _names(request.query.get("properties"))
        payload: dict[str, Any] = {
            "results": [self.portal.contacts[i].render(requested) for i in ids[:limit]]}
        if len(ids) > limit:
            following = str(ids[limit])
            payload["paging"] = {"next": {"after": following,
                                          "link": f"{self.url}{request.path}?after={following}"}}
        return json_response(200, payload)

    def _properties(self, request: Request) -> Response:
        """The portal's contact properties; those beyond HubSpot's own are custom."""
        results = [{"name": name, "label": name, "type": "string", "fieldType": "text",
                    "groupName": "contactinformation",
                    "hubspotDefined": name in DEFAULT_PROPERTIES,
                    "modificationMetadata": {"readOnlyValue": name in READ_ONLY,
                                             "readOnlyDefinition": name in DEFAULT_PROPERTIES,
                                             "archivable": name not in DEFAULT_PROPERTIES}}
                   for name in sorted(self.portal.properties)]
        return json_response(200, {"results": results})

    # -- archive and GDPR delete ------------------------------------------------------------
    def _archive(self, request: Request) -> Response:
        key = request.params["key"]
        contact = self.portal.live(int(key)) if key.isdigit() else None
        if contact is not None:
            self.portal.archive(contact)
        return Response(204)

    def _batch_archive(self, request: Request) -> Response:
        for item in self._inputs(self.body(request), self.batch_limit):
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            contact = self.portal.live(int(key)) if key.isdigit() else None
            if contact is not None:
                self.portal.archive(contact)
        return Response(204)

    def _gdpr_delete(self, request: Request) -> Response:
        data = self.body(request)
        key = data.get("objectId")
        if not isinstance(key, str) or not key.strip():
            raise self.refuse(_bad("objectId is required"))
        if self._id_property(data.get("idProperty")) == "email":
            email = key.strip().lower()
            self.portal.gdpr_delete(contact=self.portal.find_email(email), email=email)
            return Response(204)
        contact = self.portal.contacts.get(int(key)) if key.isdigit() else None
        if contact is None:
            return hs_error(404, f"Object not found. objectId={key}",
                            category="OBJECT_NOT_FOUND", context={"id": [key]})
        self.portal.gdpr_delete(contact=contact)
        return Response(204)


def _names(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]
