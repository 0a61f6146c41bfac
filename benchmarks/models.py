#!/usr/bin/env python
"""Model-segment figures on PostgreSQL: propensity AUC against a recency-only baseline and
k recovery on the demo generator's planted signals, training time, scoring speed.

Scratch database cdp_bench_models:
1. generate_demo's customers (cdp/demo/planted.py plants 4 personas and purchase intent)
   loaded through the ingestion services, as_of 2026-01-01; traits computed as of then.
2. A propensity model (purchase in the next 30 days, profiling consent required as in
   production) trained with the default features: ROC AUC of the calibrated winner on the
   held-out test share, against a logistic regression on days_since_last_purchase alone.
3. A k-means model over buyers (purchase_count, avg_basket): the k it chooses, and its
   agreement (adjusted Rand index) with the planted personas.
4. Scoring speed: synthetic profiles (traits resampled from the demo's, profiling
   granted) loaded with COPY, scored twice by the trained propensity model in a child
   process (its peak memory is the scoring's); score_rps is the second run, which also
   replaces the first one's rows, as the nightly scoring does.
`--quick`: 3,000 customers and 100,000 scored profiles. Ends with:
RESULT auc=.. baseline_auc=.. k_found=.. k_planted=.. train_s=.. score_rps=..
"""

import argparse
import base64
import datetime as dt
import io
import os
import random
import resource
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.data import recreate_database  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cdp_bench_models"
AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TRAIT_COLUMNS = (
    "first_purchase_at", "last_purchase_at", "purchase_count", "purchase_count_30d",
    "purchase_count_90d", "purchase_count_365d", "revenue_total", "revenue_30d",
    "revenue_90d", "revenue_365d", "avg_basket", "last_activity_at", "email_opens_30d",
    "email_clicks_30d",
)


def _setup_env() -> None:
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB}", REDIS_URL="", DEBUG="0", LOG_LEVEL="WARNING",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        CDP_ENCRYPTION_KEYS=os.environ.get("CDP_ENCRYPTION_KEYS")
        or base64.urlsafe_b64encode(os.urandom(32)).decode(),
        CDP_BLIND_INDEX_KEY=os.environ.get("CDP_BLIND_INDEX_KEY") or secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1", DJANGO_SETTINGS_MODULE="cdp.settings",
    )


def _load_demo(customers: int) -> dict[tuple[str, str], str]:
    """Demo customers into the database; (source, external_id) of each anchor -> persona."""
    from cdp.demo.generator import generate
    from cdp.demo.loading import demo_load
    from cdp.demo.planted import _anchor

    personas: dict[tuple[str, str], str] = {}

    def stream():
        for customer in generate(customers=customers, seed=42, as_of=AS_OF):
            anchor = _anchor(customer.records)
            if anchor is not None:
                personas[(anchor.source, anchor.external_id)] = customer.persona
            yield customer

    report = demo_load(customers=stream(), actor="bench")
    print(report.stats.summary())
    return personas


def _persona_of_profiles(personas: dict[tuple[str, str], str]) -> dict[uuid.UUID, str]:
    from cdp.models import SourceRecord

    rows = SourceRecord.objects.filter(implicit=False).values_list(
        "source__name", "external_id", "profile_id")
    return {pid: personas[(s, e)] for s, e, pid in rows if (s, e) in personas}


def _train_propensity() -> tuple[object, float]:
    from segments.ml.registry import model_train, model_version_activate, segment_model_save

    model = segment_model_save(actor="bench", name="Purchase 30d", slug="purchase-30d",
                               kind="propensity", train_schedule="")
    started = time.perf_counter()
    version = model_train(model_id=model.pk, now=AS_OF, actor="bench", activate=False)
    train_s = time.perf_counter() - started
    if version.status != "ready":
        raise SystemExit(f"propensity training failed: {version.error}")
    # Scored below, as of the demo's date (activation would queue a scoring as of today).
    model_version_activate(version=version, actor="bench", queue_scoring=False)
    return version, train_s


def _train_groups(persona_of: dict[uuid.UUID, str]) -> tuple[object, float | None]:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    from segments.ml.artifacts import pipeline_load
    from segments.ml.features import Layout, read_frame
    from segments.ml.labels import eligible_profiles
    from segments.ml.registry import model_train, segment_model_save

    model = segment_model_save(
        actor="bench", name="Customer groups", slug="customer-groups", kind="clustering",
        population={"trait": "purchase_count", "op": "gte", "value": 1}, train_schedule="")
    version = model_train(model_id=model.pk, now=AS_OF, actor="bench", activate=False)
    if version.status != "ready":
        raise SystemExit(f"clustering failed: {version.error}")
    frame = read_frame(Layout.of(model.features), scope=eligible_profiles(model, now=AS_OF),
                       reference=AS_OF, as_of=False)
    labels = pipeline_load(version.artifact, version.artifact_sha256).predict(frame.X)
    known = [(i, persona_of[p]) for i, p in enumerate(frame.profile_ids()) if p in persona_of]
    if not known:
        return version, None
    index = np.array([i for i, _ in known])
    return version, float(adjusted_rand_score([p for _, p in known], labels[index]))


def _copy(cur, table: str, columns: str, lines) -> None:
    buffer = io.StringIO()
    for count, line in enumerate(lines, 1):
        buffer.write(line)
        if count % 200_000 == 0:
            buffer.seek(0)
            cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
            buffer = io.StringIO()
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def _load_synthetic(count: int) -> None:
    """Profiles whose traits are resampled from the demo's, all granted profiling."""
    from django.db import connection

    rng = random.Random(9)
    columns = ", ".join(TRAIT_COLUMNS)
    with connection.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM segments_profiletraits")  # noqa: S608
        pool = [["\\N" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
                 for v in row] for row in cur.fetchall()]
        ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]
        stamp = AS_OF.isoformat()
        _copy(cur, "cdp_profile", "id, created_at, updated_at",
              (f"{pid}\t{stamp}\t{stamp}\n" for pid in ids))
        _copy(cur, "segments_profiletraits", f"profile_id, {columns}, computed_at",
              (f"{pid}\t" + "\t".join(rng.choice(pool)) + f"\t{stamp}\n" for pid in ids))
        captured = (AS_OF - dt.timedelta(days=400)).isoformat()
        _copy(cur, "cdp_consententry",
              "profile_id, purpose, status, lawful_basis, channel, notice_version, "
              "notice_hash, recorded_by, evidence, captured_at, recorded_at",
              (f"{pid}\tprofiling\tgranted\tconsent\tweb\tv1\t\tbench\t{{}}\t{captured}"
               f"\t{stamp}\n" for pid in ids))
        cur.execute("VACUUM ANALYZE")


def score_child(model_id: int) -> None:
    """In a fresh process: score twice (the second run replaces the first one's rows, as
    every nightly run does), print seconds of each, profiles and peak memory (MB)."""
    import django

    django.setup()
    from segments.ml.scoring import model_score

    timings = []
    for _ in range(2):
        started = time.perf_counter()
        run = model_score(model_id=model_id, now=AS_OF, trigger="bench")
        timings.append(time.perf_counter() - started)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"SCORED {timings[0]:.3f} {timings[1]:.3f} {run.profiles} {peak_mb:.0f}")


def _score(model_id: int) -> tuple[float, float, int, float]:
    out = subprocess.run([sys.executable, __file__, "--score-child", str(model_id)],
                         capture_output=True, text=True, check=True, env=os.environ)
    line = next(x for x in out.stdout.splitlines() if x.startswith("SCORED "))
    first, again, profiles, peak = line.split()[1:]
    return float(first), float(again), int(profiles), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the loaded data of a previous run of the same size")
    parser.add_argument("--score-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _setup_env()
    if args.score_child:
        score_child(args.score_child)
        return
    customers, scored = (3_000, 100_000) if args.quick else (20_000, 1_000_000)
    if not args.reuse:
        recreate_database(PG, DB)
    import django

    django.setup()
    from django.core.management import call_command

    from cdp.demo.planted import K_PLANTED
    from cdp.models import Profile
    from segments.models import SegmentModel
    from segments.traits import traits_recompute_all

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    reuse = args.reuse and Profile.objects.count() >= scored
    personas = _load_demo(customers) if not reuse else {}
    if not reuse:
        traits_recompute_all(now=AS_OF)
        print(f"demo loaded in {time.perf_counter() - started:.0f} s")
    SegmentModel.objects.all().delete()
    version, train_s = _train_propensity()
    m = version.metrics
    groups, ari = _train_groups(_persona_of_profiles(personas)) if personas else (
        _train_groups({}))
    k_found = groups.metrics["k"]
    if not reuse:
        started = time.perf_counter()
        _load_synthetic(scored)
        print(f"{scored:,} synthetic profiles loaded in {time.perf_counter() - started:.0f} s")
    first_s, score_s, profiles, peak_mb = _score(version.model_id)
    rps = profiles / score_s
    # The same pipeline with the cheapest classifier: what the scoring path itself costs.
    from segments.ml.registry import model_train, model_version_activate, segment_model_save

    plain = segment_model_save(actor="bench", name="Purchase 30d (logistic)",
                               slug="purchase-30d-logistic", kind="propensity",
                               algorithm="logistic", train_schedule="")
    model_train(model_id=plain.pk, now=AS_OF, actor="bench", activate=False)
    model_version_activate(version=plain.versions.get(), actor="bench", queue_scoring=False)
    _, plain_s, plain_profiles, _ = _score(plain.pk)
    plain_rps = plain_profiles / plain_s
    best = m["candidates"][m["chosen"]]
    print(f"| propensity ROC AUC, test share ({m['chosen']}, {m['calibration']}) | "
          f"{m['test_auc']:.3f} | recency only {m['baseline']['test_auc']:.3f}; "
          f"goal 0.75 |")
    print(f"| same, 5-fold CV on the training share | {best['cv_auc']:.3f} | "
          f"recency only {m['baseline']['cv_auc']:.3f} |")
    print(f"| Brier score (calibrated) | {m['brier']:.3f} | base rate "
          f"{m['brier_base_rate']:.3f}, uncalibrated {m['brier_uncalibrated']:.3f} |")
    print(f"| k-means k found / planted | {k_found} / {K_PLANTED} | ARI with personas "
          f"{'-' if ari is None else f'{ari:.2f}'}, stability ARI "
          f"{groups.metrics['stability'].get('ari_mean')} |")
    print(f"| training the propensity model ({m['rows']:,} profiles, 3 candidates) | "
          f"{train_s:.1f} s | |")
    print(f"| scoring {profiles:,} profiles again (end to end: eligibility, features, "
          f"scores, old rows replaced) | {score_s:.1f} s = {rps:,.0f} profiles/s | "
          f"{rps / 100_000:.2f} of the 100,000/s goal; peak {peak_mb:.0f} MB |")
    print(f"| same, first scoring (no rows to replace) | {first_s:.1f} s = "
          f"{profiles / first_s:,.0f} profiles/s | |")
    print(f"| same, again, the model trained as a logistic regression | "
          f"{plain_s:.1f} s = {plain_rps:,.0f} profiles/s | {plain_rps / 100_000:.2f} of the "
          f"goal |")
    print(f"RESULT auc={m['test_auc']:.4f} baseline_auc={m['baseline']['test_auc']:.4f} "
          f"k_found={k_found} k_planted={K_PLANTED} train_s={train_s:.2f} "
          f"score_rps={rps:.0f} cv_auc={best['cv_auc']:.4f} "
          f"cv_baseline_auc={m['baseline']['cv_auc']:.4f} brier={m['brier']:.4f} "
          f"ari_personas={'nan' if ari is None else f'{ari:.3f}'} scored={profiles} "
          f"score_peak_mb={peak_mb:.0f} first_score_rps={profiles / first_s:.0f} "
          f"logistic_score_rps={plain_rps:.0f} "
          f"customers={customers}")


if __name__ == "__main__":
    main()
