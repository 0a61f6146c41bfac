"""manage.py train_segment_model NAME [--create KIND] [--no-activate] [--no-score] [--async]"""

import datetime as dt
import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from segments.ml.registry import SegmentModelInvalid, model_train, segment_model_save
from segments.ml.scoring import model_score
from segments.models import ModelVersion, SegmentModel


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"not valid JSON: {exc.msg} at character {exc.pos}") from exc


class Command(BaseCommand):
    help = (
        "Train a new version of a model-based segment source (by slug), activate it and "
        "score every eligible profile with it. --create KIND makes the model first when it "
        "does not exist (propensity, churn or clustering, with default features)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the model's slug, e.g. purchase-30d")
        parser.add_argument("--create", choices=SegmentModel.Kind.values, metavar="KIND",
                            help="create the model if missing: propensity, churn or clustering")
        parser.add_argument("--algorithm", help="with --create: e.g. kmeans, gmm, dbscan, "
                            "agglomerative; best, logistic, random_forest, gradient_boosting")
        parser.add_argument("--features", type=_json, help="with --create: JSON feature set")
        parser.add_argument("--params", type=_json, help="with --create: JSON training knobs")
        parser.add_argument("--population", type=_json,
                            help="with --create (clustering): JSON rule of who is clustered")
        parser.add_argument("--no-consent", action="store_true",
                            help="with --create: do not require the profiling consent")
        parser.add_argument("--no-activate", action="store_true",
                            help="keep the active version; the new one waits for activation")
        parser.add_argument("--no-score", action="store_true",
                            help="do not score here: activation queues it on the worker")
        parser.add_argument("--async", action="store_true", dest="run_async",
                            help="queue the training on the Celery worker and return")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                            help="train and score as if it were this day (demo data made "
                                 "with generate_demo --as-of)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = f"command:{os.environ.get('USER', 'unknown')}"
        model = self._model(options, actor)
        if options["run_async"]:
            from segments.tasks import segment_model_train_task

            result = segment_model_train_task.delay(model.pk, "manual")
            self.stdout.write(f"training of {model.slug} queued (task {result.id})")
            return
        now = (dt.datetime.combine(options["as_of"], dt.time(0), tzinfo=dt.UTC)
               if options["as_of"] else timezone.now())
        activate = not options["no_activate"]
        version = model_train(model_id=model.pk, trigger="manual", actor=actor, now=now,
                              activate=False)
        if version is None or version.status != ModelVersion.Status.READY:
            raise CommandError(f"training failed: {version.error if version else 'no model'}")
        self.stdout.write(self._summary(version))
        if activate:
            from segments.ml.registry import model_version_activate

            model_version_activate(version=version, actor=actor,
                                   queue_scoring=options["no_score"])
            self.stdout.write(f"version {version.number} is active")
        if activate and not options["no_score"]:
            run = model_score(model_id=model.pk, trigger="manual", now=now)
            if run is not None:
                self.stdout.write(f"scored {run.profiles} profiles in {run.duration_ms} ms"
                                  + (f", PSI {run.psi:.3f}" if run.psi is not None else ""))
                for warning in run.warnings:
                    self.stdout.write(f"warning: {warning}")

    def _model(self, options: dict[str, Any], actor: str) -> SegmentModel:
        model = SegmentModel.objects.filter(slug=options["name"]).first()
        if model is not None:
            return model
        if not options["create"]:
            raise CommandError(f"unknown model {options['name']!r}: create it in the admin, "
                               "the API or with --create propensity|churn|clustering")
        try:
            return segment_model_save(
                actor=actor, name=options["name"], slug=options["name"],
                kind=options["create"], algorithm=options["algorithm"],
                features=options["features"], params=options["params"],
                population=options["population"],
                requires_consent=not options["no_consent"])
        except SegmentModelInvalid as exc:
            raise CommandError("; ".join(f"{p}: {m}" for p, m in exc.errors)) from exc

    def _summary(self, version: ModelVersion) -> str:
        m = version.metrics
        if "test_auc" in m:
            head = (f"ROC AUC {m['test_auc']:.3f} (recency only {m['baseline']['test_auc']:.3f}), "
                    f"Brier {m['brier']:.3f}, {m['chosen']} calibrated ({m['calibration']}), "
                    f"{m['rows']} profiles")
        else:
            stability = m.get("stability", {}).get("ari_mean")
            head = (f"{m['clusters']} clusters, silhouette {m.get('silhouette')}, "
                    f"Davies-Bouldin {m.get('davies_bouldin')}, stability ARI {stability}, "
                    f"{m['rows']} profiles")
        lines = [f"{version.model.slug} version {version.number} ({version.algorithm}): {head}, "
                 f"trained in {version.duration_ms / 1000:.1f} s"]
        drift = version.drift
        if "psi" in drift:
            lines.append(f"drift against version {drift['against']}: PSI of scores "
                         f"{drift['psi']:.3f}")
        elif "ari" in drift:
            lines.append(f"drift against version {drift['against']}: clusters agree at ARI "
                         f"{drift['ari']:.3f}")
        lines += [f"warning: {w}" for w in version.warnings]
        return "\n".join(lines)
