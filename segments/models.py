"""Segments: computed traits per profile, segment definitions, membership history, runs."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cdp.models import Profile


class ProfileTraits(models.Model):
    """Behavioural traits of one profile, computed from its events.

    Windowed figures (30/90/365 days) are exact when computed; the nightly batch keeps
    them true as time passes without new events.
    """

    profile = models.OneToOneField(
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="traits"
    )
    first_purchase_at = models.DateTimeField(null=True, blank=True)
    last_purchase_at = models.DateTimeField(null=True, blank=True, db_index=True)
    purchase_count = models.PositiveIntegerField(default=0)
    purchase_count_30d = models.PositiveIntegerField(default=0)
    purchase_count_90d = models.PositiveIntegerField(default=0, db_index=True)
    purchase_count_365d = models.PositiveIntegerField(default=0)
    revenue_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_30d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_90d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    revenue_365d = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    avg_basket = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True, db_index=True)
    email_opens_30d = models.PositiveIntegerField(default=0)
    email_clicks_30d = models.PositiveIntegerField(default=0)
    # RFM quintiles, 1 (low) to 5 (high); null for profiles without purchases.
    rfm_recency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_score = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "profile traits"

    def __str__(self) -> str:
        return f"traits of {self.profile_id}"


class Segment(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    # The rule tree (see segments.rules); validated before it is stored.
    definition = models.JSONField()
    schema_version = models.PositiveSmallIntegerField(default=1)
    # Cron expression (minute hour day month weekday), Europe/Paris; "" = manual only.
    schedule = models.CharField(max_length=100, default="0 * * * *", blank=True)
    enabled = models.BooleanField(default=True)
    # Derived from the definition on save: what re-evaluation on ingest listens to.
    event_types = models.JSONField(default=list, blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="used_by", blank=True
    )
    size = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """One stay of a profile in a segment; exited_at is null while it is a member."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="memberships")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "profile"],
                condition=Q(exited_at__isnull=True),
                name="membership_one_open_stay",
            )
        ]
        indexes = [
            models.Index(fields=["profile", "segment"], name="membership_profile_segment"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.segment_id}"


class SegmentRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        EVENT = "event", _("Event")
        RETRY = "retry", _("Retry")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    started_at = models.DateTimeField()
    # Lease: a running run whose heartbeat is older than the lease is considered dead.
    heartbeat_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    added = models.PositiveIntegerField(null=True, blank=True)
    removed = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    jaccard = models.FloatField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["segment", "-started_at"], name="segmentrun_recent")]
        constraints = [
            # At most one running run per segment: the lease.
            models.UniqueConstraint(
                fields=["segment"], condition=Q(status="running"), name="segmentrun_one_running"
            )
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} {self.status} {self.started_at:%Y-%m-%d %H:%M}"


class SegmentModel(models.Model):
    """A model segments read from: customer groups (clustering) or a score (propensity to
    purchase, churn), trained into versions of which one is active (segments.ml)."""

    class Kind(models.TextChoices):
        CLUSTERING = "clustering", _("Clustering")
        PROPENSITY = "propensity", _("Propensity to purchase")
        CHURN = "churn", _("Churn")

    class Algorithm(models.TextChoices):
        KMEANS = "kmeans", _("k-means")
        GMM = "gmm", _("Gaussian mixture")
        DBSCAN = "dbscan", _("DBSCAN")
        AGGLOMERATIVE = "agglomerative", _("Agglomerative (Ward)")
        BEST = "best", _("Best of the three classifiers")
        LOGISTIC = "logistic", _("Logistic regression")
        FOREST = "random_forest", _("Random forest")
        BOOSTING = "gradient_boosting", _("Histogram gradient boosting")

    name = models.CharField(max_length=120)
    # Rules name the model by its slug: {"model": "purchase-30d", "score": {"gte": 0.7}}.
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    algorithm = models.CharField(max_length=24, choices=Algorithm.choices)
    # {"traits": [...], "attributes": [...], "scaling": "standard" | "minmax", "log": bool}
    features = models.JSONField()
    # Training knobs (k range, horizon, folds...); validated by segments.ml.spec.
    params = models.JSONField(default=dict, blank=True)
    # Clustering only: a rule tree of who is clustered and scored ({}: everyone).
    population = models.JSONField(default=dict, blank=True)
    # GDPR Art. 21/22: only profiles allowed for the "profiling" purpose are used.
    requires_consent = models.BooleanField(default=True)
    # Cron expression (Europe/Paris) of retraining; "" = on demand only.
    train_schedule = models.CharField(max_length=100, default="0 5 * * 1", blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def predictive(self) -> bool:
        return self.kind != self.Kind.CLUSTERING


class ModelVersion(models.Model):
    """One training of a model: what was used, how good it is, and the fitted pipeline."""

    class Status(models.TextChoices):
        TRAINING = "training", _("Training")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    model = models.ForeignKey(SegmentModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    trigger = models.CharField(max_length=16, default="manual")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The estimator actually fitted (for "best": the winner of the comparison).
    algorithm = models.CharField(max_length=24, blank=True)
    # Effective parameters: features, cutoff, horizon, k, eps, calibration...
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # name -> SVG document (elbow, silhouette, roc, calibration).
    charts = models.JSONField(default=dict, blank=True)
    # Clustering: one summary per cluster (size, feature means vs overall).
    clusters = models.JSONField(default=list, blank=True)
    # Names marketers give the clusters: {"0": "bargain hunters", ...}.
    cluster_names = models.JSONField(default=dict, blank=True)
    # Score distribution at training (bin edges and shares), the reference of drift (PSI).
    score_reference = models.JSONField(default=dict, blank=True)
    # Against the version active before: {"against": n, "psi": x} or {"against": n, "ari": x}.
    drift = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # joblib of the fitted scikit-learn Pipeline: aggregates only, no row of any person.
    artifact = models.BinaryField(null=True, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="modelversion_number"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(is_active=True), name="modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug} v{self.number}"


class ModelScoringRun(models.Model):
    """One scoring of every eligible profile by a version, with its drift check."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, default="manual")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    profiles = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Population stability index of these scores against the version's training ones.
    psi = models.FloatField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.version} scored {self.started_at:%Y-%m-%d %H:%M}"


class ProfileScore(models.Model):
    """A profile's output of a model's active version: a score (0..1) or a cluster.

    Only the latest scoring of each model is kept: a scoring run replaces all rows of its
    model at once, so rules always read one version.

    The foreign keys are not database constraints: checking three of them per row at
    commit took longer than writing the row (a million rows per scoring). Deletes go
    through the ORM, which cascades by itself (profiles, models, versions), and the
    segments eraser deletes a subject's scores explicitly.
    """

    pk = models.CompositePrimaryKey("model", "profile")
    # The primary key (model, profile) serves lookups by model: no index of its own.
    model = models.ForeignKey(SegmentModel, on_delete=models.CASCADE, related_name="scores",
                              db_constraint=False, db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="model_scores",
                                db_constraint=False)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+",
                                db_index=False, db_constraint=False)
    score = models.FloatField(null=True, blank=True)
    cluster = models.SmallIntegerField(null=True, blank=True)
    scored_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.profile_id} by {self.model_id}"
