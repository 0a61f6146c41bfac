"""Computed traits: per-profile purchase, revenue, email and activity figures, and RFM scores.

Everything here is set-based SQL: one statement per chunk of profiles, never a Python loop
over profiles or events. The SQL is portable between PostgreSQL and SQLite (the embedded
demo): CASE inside SUM instead of FILTER, window functions both support, named parameters
for every value, datetimes and UUIDs adapted by the connection as the ORM would.

Windows are inclusive at their lower end: an event exactly 30 days old counts in the
30-day figures. They have no upper end, so an event stamped a little after `now` (ingestion
accepts up to a day of clock skew) counts in every window.

A profile without events has no traits row: the recomputation deletes the rows of
profiles whose events are all gone, so "no row" and "never did anything" mean the same.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Collection, Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from cdp.models import Profile

logger = logging.getLogger(__name__)

PURCHASE = "purchase"
EMAIL_OPEN = "email_open"
EMAIL_CLICK = "email_click"
# Profiles per statement: bounds the size of the IN list (SQLite allows fewer, see _chunks).
CHUNK_SIZE = 5000
# Room for the named parameters a statement has besides the IN list (12 at most).
_OTHER_PARAMS = 16

# The event-derived columns of segments_profiletraits, in the order _SELECT yields them.
TRAIT_COLUMNS: tuple[str, ...] = (
    "first_purchase_at", "last_purchase_at",
    "purchase_count", "purchase_count_30d", "purchase_count_90d", "purchase_count_365d",
    "revenue_total", "revenue_30d", "revenue_90d", "revenue_365d", "avg_basket",
    "last_activity_at", "email_opens_30d", "email_clicks_30d",
)

# One profile's traits from its events. {bound} is empty for the stored traits (no upper
# end, see above) and "AND e.occurred_at < %(as_of)s" for traits as they were at a past
# moment (segments.ml builds training features with it, so they never see the label).
_SELECT = """
SELECT
    e.profile_id AS profile_id,
    MIN(CASE WHEN e.type = %(purchase)s THEN e.occurred_at END) AS first_purchase_at,
    MAX(CASE WHEN e.type = %(purchase)s THEN e.occurred_at END) AS last_purchase_at,
    SUM(CASE WHEN e.type = %(purchase)s THEN 1 ELSE 0 END) AS purchase_count,
    SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_30)s
             THEN 1 ELSE 0 END) AS purchase_count_30d,
    SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_90)s
             THEN 1 ELSE 0 END) AS purchase_count_90d,
    SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_365)s
             THEN 1 ELSE 0 END) AS purchase_count_365d,
    ROUND(SUM(CASE WHEN e.type = %(purchase)s THEN COALESCE(e.value, 0) ELSE 0 END), 2)
        AS revenue_total,
    ROUND(SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_30)s
                   THEN COALESCE(e.value, 0) ELSE 0 END), 2) AS revenue_30d,
    ROUND(SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_90)s
                   THEN COALESCE(e.value, 0) ELSE 0 END), 2) AS revenue_90d,
    ROUND(SUM(CASE WHEN e.type = %(purchase)s AND e.occurred_at >= %(since_365)s
                   THEN COALESCE(e.value, 0) ELSE 0 END), 2) AS revenue_365d,
    -- "* 1.0": SQLite would divide integers as integers.
    ROUND(SUM(CASE WHEN e.type = %(purchase)s THEN COALESCE(e.value, 0) ELSE 0 END) * 1.0
          / NULLIF(SUM(CASE WHEN e.type = %(purchase)s THEN 1 ELSE 0 END), 0), 2)
        AS avg_basket,
    MAX(e.occurred_at) AS last_activity_at,
    SUM(CASE WHEN e.type = %(email_open)s AND e.occurred_at >= %(since_30)s
             THEN 1 ELSE 0 END) AS email_opens_30d,
    SUM(CASE WHEN e.type = %(email_click)s AND e.occurred_at >= %(since_30)s
             THEN 1 ELSE 0 END) AS email_clicks_30d,
    %(now)s AS computed_at
FROM cdp_event e
WHERE {scope}{bound}
GROUP BY e.profile_id
"""

_UPSERT = f"""
INSERT INTO segments_profiletraits (profile_id, {", ".join(TRAIT_COLUMNS)}, computed_at)
{_SELECT}
-- Rows are locked in one order by every caller, so a refresh and the batch cannot deadlock.
ORDER BY e.profile_id
ON CONFLICT (profile_id) DO UPDATE SET
    first_purchase_at = excluded.first_purchase_at,
    last_purchase_at = excluded.last_purchase_at,
    purchase_count = excluded.purchase_count,
    purchase_count_30d = excluded.purchase_count_30d,
    purchase_count_90d = excluded.purchase_count_90d,
    purchase_count_365d = excluded.purchase_count_365d,
    revenue_total = excluded.revenue_total,
    revenue_30d = excluded.revenue_30d,
    revenue_90d = excluded.revenue_90d,
    revenue_365d = excluded.revenue_365d,
    avg_basket = excluded.avg_basket,
    last_activity_at = excluded.last_activity_at,
    email_opens_30d = excluded.email_opens_30d,
    email_clicks_30d = excluded.email_clicks_30d,
    computed_at = excluded.computed_at
"""  # noqa: S608 - only our column names are interpolated; values are params.

_DELETE_WITHOUT_EVENTS = """
DELETE FROM segments_profiletraits
WHERE {scope}
  AND NOT EXISTS (
      SELECT 1 FROM cdp_event e WHERE e.profile_id = segments_profiletraits.profile_id
  )
"""

# RFM quintile of a value x among the n purchasers: 1 + floor(5 * (purchasers with a
# strictly lower value) / n). Ties share a quintile (NTILE would split identical
# customers across quintiles at random) and with distinct values and n a multiple of 5
# it equals NTILE(5). Breakpoint k (1..4) is the lowest value v with
# 5 * (purchasers with a value <= v) >= k * n, PERCENTILE_DISC(k / 5) in integers; x is in
# quintile q + 1 exactly when it exceeds q breakpoints. So one query for the breakpoints
# and one UPDATE score the whole table (batch) or a few profiles (refresh) alike.
_BREAKPOINTS = """
SELECT
    MIN(CASE WHEN 5 * r_le >= n THEN r END), MIN(CASE WHEN 5 * r_le >= 2 * n THEN r END),
    MIN(CASE WHEN 5 * r_le >= 3 * n THEN r END), MIN(CASE WHEN 5 * r_le >= 4 * n THEN r END),
    MIN(CASE WHEN 5 * f_le >= n THEN f END), MIN(CASE WHEN 5 * f_le >= 2 * n THEN f END),
    MIN(CASE WHEN 5 * f_le >= 3 * n THEN f END), MIN(CASE WHEN 5 * f_le >= 4 * n THEN f END),
    MIN(CASE WHEN 5 * m_le >= n THEN m END), MIN(CASE WHEN 5 * m_le >= 2 * n THEN m END),
    MIN(CASE WHEN 5 * m_le >= 3 * n THEN m END), MIN(CASE WHEN 5 * m_le >= 4 * n THEN m END)
FROM (
    SELECT
        last_purchase_at AS r, purchase_count AS f, revenue_total AS m,
        -- The default frame runs to the last peer: the count of values <= this one.
        COUNT(*) OVER (ORDER BY last_purchase_at) AS r_le,
        COUNT(*) OVER (ORDER BY purchase_count) AS f_le,
        COUNT(*) OVER (ORDER BY revenue_total) AS m_le,
        COUNT(*) OVER () AS n
    FROM segments_profiletraits
    WHERE purchase_count > 0
) ranked
"""

# Recency ranks by last_purchase_at, the more recent the higher, which orders profiles
# as "days since the last purchase" would for any `now`.
_RFM_COLUMNS = (("r", "last_purchase_at"), ("f", "purchase_count"), ("m", "revenue_total"))


def _quintile(letter: str, column: str) -> str:
    """SQL for the quintile of a column, given breakpoint parameters <letter>1 to <letter>4."""
    steps = " ".join(
        f"WHEN {column} > %({letter}{k})s THEN {k + 1}" for k in (4, 3, 2, 1)
    )
    return f"(CASE {steps} ELSE 1 END)"


_R, _F, _M = (_quintile(letter, column) for letter, column in _RFM_COLUMNS)
_SCORE = f"""
UPDATE segments_profiletraits SET
    rfm_recency = CASE WHEN purchase_count > 0 THEN {_R} END,
    rfm_frequency = CASE WHEN purchase_count > 0 THEN {_F} END,
    rfm_monetary = CASE WHEN purchase_count > 0 THEN {_M} END,
    rfm_score = CASE WHEN purchase_count > 0 THEN 100 * {_R} + 10 * {_F} + {_M} END
WHERE {{scope}}
"""  # noqa: S608 - only column names from _RFM_COLUMNS are interpolated; values are params.


def _chunks(profile_ids: Collection[uuid.UUID | str] | None) -> Iterator[dict | None]:
    """Split profile ids into IN-list parameters, one dict per statement; None means all."""
    if profile_ids is None:
        yield None
        return
    pk = Profile._meta.pk
    prepared = sorted({pk.get_db_prep_value(value, connection) for value in profile_ids}, key=str)
    limit = connection.features.max_query_params
    size = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - _OTHER_PARAMS)
    for start in range(0, len(prepared), size):
        yield {f"p{i}": value for i, value in enumerate(prepared[start : start + size])}


def _scope(column: str, params: dict | None) -> str:
    """The WHERE clause of one chunk: placeholders only, the ids stay parameters."""
    if params is None:
        return "1 = 1"
    return f"{column} IN ({', '.join(f'%({name})s' for name in params)})"


def _datetime(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _window_params(now: dt.datetime) -> dict[str, Any]:
    return {
        "purchase": PURCHASE,
        "email_open": EMAIL_OPEN,
        "email_click": EMAIL_CLICK,
        "now": _datetime(now),
        **{f"since_{days}": _datetime(now - dt.timedelta(days=days)) for days in (30, 90, 365)},
    }


def traits_as_of_sql(*, as_of: dt.datetime) -> tuple[str, dict[str, Any]]:
    """SELECT (profile_id, *TRAIT_COLUMNS, computed_at) of every profile's traits as they
    were at `as_of`: the stored traits' own expressions over the events strictly before
    as_of only, with the windows ending at as_of. Profiles without such events have no row.

    Read-only and unordered, for callers to wrap (segments.ml features at a cutoff).
    """
    params = {**_window_params(as_of), "as_of": _datetime(as_of)}
    return _SELECT.format(scope="1 = 1", bound=" AND e.occurred_at < %(as_of)s"), params


def traits_recompute(
    *, profile_ids: Collection[uuid.UUID] | None = None, now: dt.datetime | None = None
) -> int:
    """Rewrite the event-derived traits of the given profiles (None: every profile).

    Profiles without events lose their row. RFM columns are left alone (see
    rfm_recompute). Returns the number of traits rows written.
    """
    now = now or timezone.now()
    base = _window_params(now)
    written = deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for params in _chunks(profile_ids):
            cursor.execute(_UPSERT.format(scope=_scope("e.profile_id", params), bound=""),
                           {**base, **(params or {})})
            written += cursor.rowcount
            cursor.execute(_DELETE_WITHOUT_EVENTS.format(scope=_scope("profile_id", params)),
                           params or {})
            deleted += cursor.rowcount
    logger.info("traits: %d profiles written, %d reset", written, deleted)
    return written


def rfm_recompute(*, profile_ids: Collection[uuid.UUID] | None = None) -> None:
    """Score RFM quintiles of the given profiles (None: all) against all current rows.

    The breakpoints come from every purchaser's current figures, so a refreshed profile is
    scored exactly as the batch would score it; the other profiles keep their scores until
    the nightly batch rescores everybody. Profiles without purchases get nulls.
    """
    if profile_ids is not None and not profile_ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_BREAKPOINTS)
        row = cursor.fetchone()
        breakpoints = {
            f"{letter}{k}": row[4 * i + k - 1]
            for i, (letter, _) in enumerate(_RFM_COLUMNS)
            for k in range(1, 5)
        }
        for params in _chunks(profile_ids):
            cursor.execute(_SCORE.format(scope=_scope("profile_id", params)),
                           {**breakpoints, **(params or {})})


def traits_refresh(*, profile_ids: Collection[uuid.UUID], now: dt.datetime | None = None) -> int:
    """Incremental path, after new events: recompute and rescore only these profiles."""
    with transaction.atomic():
        written = traits_recompute(profile_ids=profile_ids, now=now)
        rfm_recompute(profile_ids=profile_ids)
    return written


def traits_recompute_all(*, now: dt.datetime | None = None) -> int:
    """Nightly batch: every profile's traits and RFM, in one transaction.

    It also keeps the windowed figures true for profiles that had no event since their
    last refresh, and re-ranks everybody's RFM.
    """
    with transaction.atomic():
        written = traits_recompute(now=now)
        rfm_recompute()
    return written
