"""SOQL for read-back: `GET /query?q=`, `GET /queryAll?q=` and `nextRecordsUrl` paging.

Faithful (connector doc 3.8): the answer is `{totalSize, done, nextRecordsUrl?,
records}` with `attributes {type, url}` on every record and parent fields as nested
objects (`Contact.Email` -> `"Contact": {"attributes": ..., "Email": ...}`, null when
there is no parent); pages of at most 2000, smaller with `Sforce-Query-Options:
batchSize=N` (200-2000) or the fake's `query_page_size` (tests cross page boundaries);
a locator that does not exist is 400 `INVALID_QUERY_LOCATOR`; `query` hides the Recycle
Bin, `queryAll` shows it with `IsDeleted = true`; string comparisons ignore case; 15- and
18-character ids compare equal; SOQL longer than 100,000 characters and anything outside
the subset is 400 `MALFORMED_QUERY`, unknown fields `INVALID_FIELD`, unknown objects
`INVALID_TYPE`.
The subset: `SELECT f, Parent.f, ... | COUNT() FROM T [WHERE c AND c ...] [ORDER BY f
[ASC|DESC]] [LIMIT n]`, conditions `f = v`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `IN (...)`,
`NOT IN (...)`, values quoted strings, numbers, true, false, null.
Simplified: no OR, parentheses, LIKE, date literals, subqueries or aggregates but COUNT();
results are a snapshot taken at the first page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.base import Abort, Request, Response, json_response
from tests.fakes.salesforce.errors import sf_error
from tests.fakes.salesforce.schema import PREFIXES, SObjectType, make_id, same_id
from tests.fakes.salesforce.store import Record

if TYPE_CHECKING:
    from tests.fakes.salesforce.server import SalesforceFake

    _Base = SalesforceFake
else:
    _Base = object

MAX_SOQL = 100_000
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_][\w.]*))"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _malformed(message: str) -> Abort:
    return Abort(sf_error(400, "MALFORMED_QUERY", message))


@dataclass
class Condition:
    path: str
    op: str
    value: Any  # a list for IN / NOT IN


@dataclass
class Soql:
    sobject: SObjectType
    fields: list[str]  # canonical paths; empty for COUNT()
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: tuple[str, bool] | None = None  # (path, descending)
    limit: int | None = None


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _malformed(f"unexpected token: '{text[pos:pos + 20].strip()}'")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
            out.append(("value", value))
        elif kind == "number":
            out.append(("value", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw.lower() in ("true", "false", "null"):
            out.append(("value", {"true": True, "false": False, "null": None}[raw.lower()]))
        else:
            out.append((kind, raw))
    return out


class _Parser:
    def __init__(self, org: Any, text: str) -> None:
        self.org, self.tokens, self.pos = org, _tokens(text), 0

    def peek(self, word: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        kind, raw = self.tokens[self.pos]
        return word is None or (kind in ("word", "op") and str(raw).upper() == word)

    def take(self, word: str | None = None, kind: str | None = None) -> Any:
        if self.pos >= len(self.tokens):
            raise _malformed("unexpected end of query")
        got_kind, raw = self.tokens[self.pos]
        if (word and not self.peek(word)) or (kind and got_kind != kind):
            raise _malformed(f"unexpected token: '{raw}'")
        self.pos += 1
        return raw

    def parse(self) -> Soql:
        self.take("SELECT")
        paths, count = [], False
        if self.peek("COUNT"):
            self.take("COUNT"), self.take("("), self.take(")")
            count = True
        else:
            paths.append(self.take(kind="word"))
            while self.peek(","):
                self.take(",")
                paths.append(self.take(kind="word"))
        self.take("FROM")
        name = self.take(kind="word")
        sobject = self.org.type(name)
        if sobject is None:
            raise Abort(sf_error(400, "INVALID_TYPE", f"sObject type '{name}' is not "
                                                      "supported."))
        query = Soql(sobject, [self.path(sobject, p) for p in paths], count)
        if self.peek("WHERE"):
            self.take("WHERE")
            query.where.append(self.condition(sobject))
            while self.peek("AND"):
                self.take("AND")
                query.where.append(self.condition(sobject))
        if self.peek("ORDER"):
            self.take("ORDER"), self.take("BY")
            path = self.path(sobject, self.take(kind="word"))
            descending = self.peek("DESC")
            if self.peek("ASC") or descending:
                self.pos += 1
            query.order = (path, descending)
        if self.peek("LIMIT"):
            self.take("LIMIT")
            limit = self.take(kind="value")
            if not isinstance(limit, int) or limit < 0:
                raise _malformed("LIMIT must be a non-negative integer")
            query.limit = limit
        if self.pos != len(self.tokens):
            raise _malformed(f"unexpected token: '{self.tokens[self.pos][1]}'")
        return query

    def condition(self, sobject: SObjectType) -> Condition:
        path = self.path(sobject, self.take(kind="word"))
        if self.peek("NOT") or self.peek("IN"):
            negate = self.peek("NOT")
            if negate:
                self.take("NOT")
            self.take("IN"), self.take("(")
            values = [self.take(kind="value")]
            while self.peek(","):
                self.take(",")
                values.append(self.take(kind="value"))
            self.take(")")
            return Condition(path, "NOT IN" if negate else "IN", values)
        op = self.take(kind="op")
        if op not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise _malformed(f"unexpected token: '{op}'")
        return Condition(path, "!=" if op == "<>" else op, self.take(kind="value"))

    def path(self, sobject: SObjectType, raw: str) -> str:
        parts = raw.split(".")
        if len(parts) == 1:
            f = sobject.field(raw)
            if f is not None:
                return f.name
        elif len(parts) == 2:
            link = sobject.relation(parts[0])
            parent = self.org.types.get(link.reference_to) if link else None
            f = parent.field(parts[1]) if parent else None
            if link is not None and f is not None:
                return f"{link.relationship}.{f.name}"
        raise Abort(sf_error(400, "INVALID_FIELD", f"No such column '{raw}' on entity "
                                                   f"'{sobject.name}'."))


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op in ("IN", "NOT IN"):
        found = any(_compare(actual, "=", w) for w in wanted)
        return found if op == "IN" else not found
    if isinstance(actual, str) and isinstance(wanted, str):
        if same_id(actual, wanted) and actual.isalnum() and wanted.isalnum():
            actual = wanted
        actual, wanted = actual.lower(), wanted.lower()
    if op == "=":
        return actual == wanted
    if op == "!=":
        return actual != wanted
    if actual is None or wanted is None:
        return False
    try:
        return {"<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted,
                ">=": actual >= wanted}[op]
    except TypeError:
        return False


@dataclass
class Cursor:
    rows: list[dict[str, Any]]
    version: str


class QueryRoutes(_Base):
    def register_query_routes(self, api: str) -> None:
        self.add_route("GET", api + r"/query", self._query)
        self.add_route("GET", api + r"/queryAll", self._query_all)
        self.add_route("GET", api + r"/query/(?P<locator>\w+)-(?P<offset>\d+)", self._next)
        self.add_route("GET", api + r"/queryAll/(?P<locator>\w+)-(?P<offset>\d+)", self._next)

    def _query(self, request: Request) -> Response:
        return self._run(request, include_deleted=False)

    def _query_all(self, request: Request) -> Response:
        return self._run(request, include_deleted=True)

    def _run(self, request: Request, *, include_deleted: bool) -> Response:
        version = self.api_version(request)
        text = request.query.get("q", "")
        if len(text) > MAX_SOQL:
            raise _malformed(f"SOQL statements cannot be longer than {MAX_SOQL} characters.")
        soql = _Parser(self.org, text).parse()
        matched = [r for r in self._candidates(soql, include_deleted)
                   if all(_compare(self._value(r, c.path), c.op, c.value) for c in soql.where)]
        if soql.order:
            path, descending = soql.order
            matched.sort(key=lambda r: (self._value(r, path) is None,
                                        str(self._value(r, path) or "").lower()),
                         reverse=descending)
        if soql.limit is not None:
            matched = matched[: soql.limit]
        if soql.count:
            return json_response(200, {"totalSize": len(matched), "done": True, "records": []})
        rows = [self._row(r, soql.fields, version) for r in matched]
        self._query_counter += 1
        locator = make_id(PREFIXES["QueryLocator"], self._query_counter)
        self.cursors[locator] = Cursor(rows, version)
        return self._page(request, locator, 0)

    def _next(self, request: Request) -> Response:
        self.api_version(request)
        locator = request.params["locator"]
        if locator not in self.cursors:
            raise Abort(sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator"))
        return self._page(request, locator, int(request.params["offset"]))

    def _page(self, request: Request, locator: str, offset: int) -> Response:
        cursor = self.cursors[locator]
        size = self.query_page_size
        options = request.header("sforce-query-options") or ""
        asked = re.search(r"batchSize\s*=\s*(\d+)", options)
        if asked:
            size = min(size, max(200, min(2000, int(asked.group(1)))))
        page = cursor.rows[offset : offset + size]
        done = offset + size >= len(cursor.rows)
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": done, "records": page}
        if done:
            self.cursors.pop(locator, None)
        else:
            body["nextRecordsUrl"] = (f"/services/data/v{cursor.version}/query/{locator}-"
                                      f"{offset + size}")
        return json_response(200, body)

    def _candidates(self, soql: Soql, include_deleted: bool) -> list[Record]:
        """Use the org's indexes for the lookups read-back and removal make."""
        if not include_deleted:
            for c in soql.where:
                if (soql.sobject.name == "CampaignMember" and c.op == "="
                        and c.path in ("CampaignId", "ContactId", "LeadId")):
                    found = self.org.get(str(c.value))
                    return self.org.members_of(found.id) if found else []
        return self.org.all(soql.sobject.name, include_deleted=include_deleted)

    def _value(self, record: Record, path: str) -> Any:
        if "." not in path:
            return record.get(path)
        relation, name = path.split(".", 1)
        parent = self._parent(record, relation)
        return parent.get(name) if parent else None

    def _parent(self, record: Record, relation: str) -> Record | None:
        link = self.org.types[record.type].relation(relation)
        target = record.values.get(link.name) if link else None
        return self.org.get(target, include_deleted=True) if target else None

    def _row(self, record: Record, paths: list[str], version: str) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": {
            "type": record.type,
            "url": f"/services/data/v{version}/sobjects/{record.type}/{record.id}"}}
        for path in paths:
            if "." not in path:
                row[path] = record.get(path)
                continue
            relation, name = path.split(".", 1)
            parent = self._parent(record, relation)
            if parent is None:
                row[relation] = None
                continue
            nested = row.get(relation) or {"attributes": {
                "type": parent.type,
                "url": f"/services/data/v{version}/sobjects/{parent.type}/{parent.id}"}}
            nested[name] = parent.get(name)
            row[relation] = nested
        return row
