"""sObject routes: one record (read, create, update, upsert, delete) and sObject Collections.

Faithful (connector doc 3.4, 3.5, 3.7): `PATCH /sobjects/{T}/{ExtField}/{value}` answers
201 created / 200 updated with the `created` flag, 300 with the records' URLs when an
idLookup key (Email) matches several, 404 with `?updateOnly=true` and no match, 404
`NOT_FOUND` for a key field that does not exist; the key must be an External ID or
idLookup field. Collections (`PATCH /composite/sobjects/{T}/{ExtField}` upsert, `POST`
create, `PATCH` update, `DELETE ?ids=`) take at most 200 records (more: 400
`EXCEEDED_ID_LIMIT`) and answer 200 with one result per record in request order;
`allOrNone` false = partial success, true = nothing kept and the valid records reported
`ALL_OR_NONE_OPERATION_ROLLED_BACK`; unknown field names fail the whole request (400
`INVALID_FIELD`). Collections upsert needs v46.0+. `DELETE /sobjects/{T}/{id}`: 204
into the Recycle Bin, then 404 `ENTITY_IS_DELETED`.
Our choices where the vendor is unconfirmed: the same key twice in one upsert collection
fails every occurrence (`DUPLICATE_EXTERNAL_ID`); failed delete results carry no id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.salesforce.errors import sf_error
from tests.fakes.salesforce.schema import Field, SObjectType, looks_like_id
from tests.fakes.salesforce.store import MultipleMatches, Record, RecordError

if TYPE_CHECKING:
    from tests.fakes.salesforce.server import SalesforceFake

    _Base = SalesforceFake
else:
    _Base = object

ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)
ONE = r"/sobjects/(?P<type>\w+)/(?P<id>\w+)"
BY_KEY = r"/sobjects/(?P<type>\w+)/(?P<field>\w+)/(?P<value>[^/]+)"


class SObjectRoutes(_Base):
    def register_sobject_routes(self, api: str) -> None:
        self.add_route("POST", api + r"/sobjects/(?P<type>\w+)", self._create_one)
        self.add_route("GET", api + ONE, self._get_one)
        self.add_route("PATCH", api + ONE, self._update_one)
        self.add_route("DELETE", api + ONE, self._delete_one)
        self.add_route("GET", api + BY_KEY, self._get_by_key)
        self.add_route("PATCH", api + BY_KEY, self._upsert_one)
        self.add_route("POST", api + r"/composite/sobjects", self._collection_create)
        self.add_route("PATCH", api + r"/composite/sobjects", self._collection_update)
        self.add_route("DELETE", api + r"/composite/sobjects", self._collection_delete)
        self.add_route("PATCH", api + r"/composite/sobjects/(?P<type>\w+)/(?P<field>\w+)",
                       self._collection_upsert)

    # -- helpers ----------------------------------------------------------------------
    def sobject(self, request: Request, name: str | None = None) -> SObjectType:
        sobject = self.org.type(name or request.params["type"])
        if sobject is None:
            raise Abort(sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
        return sobject

    def record_json(self, record: Record, version: str, names: list[str] | None = None) -> dict:
        sobject = self.org.types[record.type]
        out: dict[str, Any] = {"attributes": {
            "type": record.type,
            "url": f"/services/data/v{version}/sobjects/{record.type}/{record.id}"}}
        for name in names or list(sobject.fields):
            f = sobject.field(name)
            if f is not None:
                out[f.name] = record.get(f.name)
        return out

    def _check_fields(self, sobject: SObjectType, records: list[dict[str, Any]]) -> None:
        for record in records:
            for name in record:
                if name != "attributes" and sobject.field(name) is None:
                    raise Abort(sf_error(400, "INVALID_FIELD",
                                         f"No such column '{name}' on sobject of type "
                                         f"{sobject.name}"))

    def _key(self, sobject: SObjectType, name: str, *, single: bool = False) -> Field:
        key = sobject.field(name)
        if key is None and single:
            raise Abort(sf_error(404, "NOT_FOUND", f"Provided external ID field does not "
                                                   f"exist or is not accessible: {name}"))
        if key is None or not (key.external_id or key.id_lookup):
            raise Abort(sf_error(400, "INVALID_FIELD",
                                 f"Field name provided, {name} is not an External ID or "
                                 f"indexed field for {sobject.name}"))
        return key

    def _record_or_404(self, request: Request, sobject: SObjectType) -> Record:
        record = self.org.get(request.params["id"], include_deleted=True)
        if record is None or record.type != sobject.name:
            raise Abort(self.not_found(request))
        if record.deleted:
            raise Abort(sf_error(404, "ENTITY_IS_DELETED", "entity is deleted"))
        return record

    def _fields_param(self, request: Request) -> list[str] | None:
        names = [n.strip() for n in request.query.get("fields", "").split(",") if n.strip()]
        return names or None

    # -- one record -------------------------------------------------------------------
    def _get_one(self, request: Request) -> Response:
        version = self.api_version(request)
        sobject = self.sobject(request)
        record = self._record_or_404(request, sobject)
        return json_response(200, self.record_json(record, version, self._fields_param(request)))

    def _get_by_key(self, request: Request) -> Response:
        version = self.api_version(request)
        sobject = self.sobject(request)
        key = self._key(sobject, request.params["field"], single=True)
        found = self.org.match(sobject, key, request.params["value"])
        if not found:
            raise Abort(self.not_found(request))
        if len(found) > 1:
            return self._multiple(found, version)
        return json_response(200, self.record_json(found[0], version,
                                                   self._fields_param(request)))

    def _create_one(self, request: Request) -> Response:
        self.api_version(request)
        sobject = self.sobject(request)
        values = self.body(request)
        try:
            record = self.org.create(sobject, values)
        except RecordError as exc:
            return json_response(400, exc.as_body())
        return json_response(201, {"id": record.id, "success": True, "errors": []})

    def _update_one(self, request: Request) -> Response:
        self.api_version(request)
        sobject = self.sobject(request)
        record = self._record_or_404(request, sobject)
        try:
            self.org.update(sobject, record, self.body(request))
        except RecordError as exc:
            return json_response(400, exc.as_body())
        return Response(204)

    def _upsert_one(self, request: Request) -> Response:
        version = self.api_version(request)
        sobject = self.sobject(request)
        key = self._key(sobject, request.params["field"], single=True)
        values = self.body(request)
        self._check_fields(sobject, [values])
        value = request.params["value"]
        if request.query.get("updateOnly") == "true" and not self.org.match(sobject, key, value):
            raise Abort(self.not_found(request))
        try:
            record, created = self.org.upsert(sobject, key, value, values)
        except MultipleMatches as exc:
            return self._multiple(exc.records, version)
        except RecordError as exc:
            return json_response(400, exc.as_body())
        body = {"id": record.id, "success": True, "errors": [], "created": created}
        return json_response(201 if created else 200, body)

    def _delete_one(self, request: Request) -> Response:
        self.api_version(request)
        record = self._record_or_404(request, self.sobject(request))
        self.org.delete(record)
        return Response(204)

    @staticmethod
    def _multiple(records: list[Record], version: str) -> Response:
        urls = [f"/services/data/v{version}/sobjects/{r.type}/{r.id}" for r in records]
        return json_response(300, urls)

    # -- collections ------------------------------------------------------------------
    def _collection_body(self, request: Request) -> tuple[list[dict[str, Any]], bool]:
        data = self.body(request)
        records = data.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise Abort(sf_error(400, "JSON_PARSER_ERROR", "records: expected an array of "
                                                           "objects"))
        self._limit(len(records))
        for record in records:
            kind = (record.get("attributes") or {}).get("type")
            if not isinstance(kind, str) or self.org.type(kind) is None:
                raise Abort(sf_error(400, "INVALID_TYPE", "Must send a concrete entity type."))
        return records, bool(data.get("allOrNone", False))

    def _limit(self, count: int) -> None:
        if count > self.collection_limit:
            raise Abort(sf_error(400, "EXCEEDED_ID_LIMIT",
                                 f"record limit reached. cannot submit more than "
                                 f"{self.collection_limit} records into this call"))

    def run_collection(self, items: list[Any], all_or_none: bool,
                       operation: Callable[[Any], dict[str, Any]],
                       failure: Callable[[Any, RecordError], dict[str, Any]]) -> list[dict]:
        """Apply `operation` to each item, in order; roll everything back on allOrNone."""
        saved = self.org.snapshot() if all_or_none else None
        results, failed = [], False
        for item in items:
            try:
                results.append(operation(item))
            except RecordError as exc:
                failed = True
                results.append(failure(item, exc))
        if failed and saved is not None:
            self.org.restore(saved)
            results = [failure(item, ROLLED_BACK) if result["success"] else result
                       for item, result in zip(items, results, strict=True)]
        return results

    def _collection_upsert(self, request: Request) -> Response:
        self.api_version(request, minimum=46.0)
        sobject = self.sobject(request)
        key = self._key(sobject, request.params["field"])
        records, all_or_none = self._collection_body(request)
        if any(self.org.type(r["attributes"]["type"]) is not sobject for r in records):
            raise Abort(sf_error(400, "INVALID_TYPE", f"All records must be {sobject.name}"))
        self._check_fields(sobject, records)
        counts: dict[str, int] = {}
        for record in records:
            value = str(record.get(key.name, "") or "")
            norm = value.lower() if self.org.case_insensitive_external_ids else value
            counts[norm] = counts.get(norm, 0) + 1

        def upsert(record: dict[str, Any]) -> dict[str, Any]:
            value = record.get(key.name)
            norm = str(value or "").lower() if self.org.case_insensitive_external_ids \
                else str(value or "")
            if value not in (None, "") and counts[norm] > 1:
                raise RecordError("DUPLICATE_EXTERNAL_ID",
                                  f"Duplicate external id specified: {value}", [key.name])
            values = {k: v for k, v in record.items() if k not in ("attributes", key.name)}
            try:
                found, created = self.org.upsert(sobject, key, value, values)
            except MultipleMatches as exc:
                ids = ", ".join(r.id for r in exc.records)
                raise RecordError("DUPLICATE_EXTERNAL_ID", f"more than one record found for "
                                  f"external id field: [{ids}]", [key.name]) from None
            return {"id": found.id, "success": True, "errors": [], "created": created}

        def failure(record: Any, exc: RecordError) -> dict[str, Any]:
            return {"success": False, "created": False, "errors": [exc.as_item()]}

        return json_response(200, self.run_collection(records, all_or_none, upsert, failure))

    def _collection_create(self, request: Request) -> Response:
        self.api_version(request, minimum=42.0)
        records, all_or_none = self._collection_body(request)

        def create(record: dict[str, Any]) -> dict[str, Any]:
            sobject = self.org.type(record["attributes"]["type"])
            values = {k: v for k, v in record.items() if k != "attributes"}
            if "Id" in values:
                raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call",
                                  ["Id"])
            created = self.org.create(sobject, values)
            return {"id": created.id, "success": True, "errors": []}

        return json_response(200, self.run_collection(records, all_or_none, create, _failed))

    def _collection_update(self, request: Request) -> Response:
        self.api_version(request, minimum=42.0)
        records, all_or_none = self._collection_body(request)

        def update(record: dict[str, Any]) -> dict[str, Any]:
            sobject = self.org.type(record["attributes"]["type"])
            target = self._live(record.get("Id"))
            if target.type != sobject.name:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            values = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
            self.org.update(sobject, target, values)
            return {"id": target.id, "success": True, "errors": []}

        return json_response(200, self.run_collection(records, all_or_none, update, _failed))

    def _collection_delete(self, request: Request) -> Response:
        self.api_version(request, minimum=42.0)
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        self._limit(len(ids))
        if not ids:
            raise Abort(sf_error(400, "MISSING_ARGUMENT", "ids parameter is required"))

        def delete(record_id: str) -> dict[str, Any]:
            record = self._live(record_id)
            self.org.delete(record)
            return {"id": record.id, "success": True, "errors": []}

        all_or_none = request.query.get("allOrNone", "false").lower() == "true"
        return json_response(200, self.run_collection(ids, all_or_none, delete, _failed))

    def _live(self, record_id: Any) -> Record:
        if not looks_like_id(record_id):
            raise RecordError("MALFORMED_ID", f"malformed id {record_id}")
        record = self.org.get(record_id, include_deleted=True)
        if record is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if record.deleted:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return record


def _failed(item: Any, exc: RecordError) -> dict[str, Any]:
    return {"success": False, "errors": [exc.as_item()]}
