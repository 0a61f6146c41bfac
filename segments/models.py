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
        Profile, on_delete=models.CASCADE, primary_key=True, related_name="traits",
        verbose_name=_("profile")
    )
    first_purchase_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("first purchase"),
    )
    last_purchase_at = models.DateTimeField(
        null=True, blank=True, db_index=True, verbose_name=_("last purchase"),
    )
    purchase_count = models.PositiveIntegerField(default=0, verbose_name=_("purchases"))
    purchase_count_30d = models.PositiveIntegerField(
        default=0, verbose_name=_("purchases (30 days)"),
    )
    purchase_count_90d = models.PositiveIntegerField(
        default=0, db_index=True, verbose_name=_("purchases (90 days)"),
    )
    purchase_count_365d = models.PositiveIntegerField(
        default=0, verbose_name=_("purchases (365 days)"),
    )
    revenue_total = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, verbose_name=_("revenue"),
    )
    revenue_30d = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, verbose_name=_("revenue (30 days)"),
    )
    revenue_90d = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, verbose_name=_("revenue (90 days)"),
    )
    revenue_365d = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, verbose_name=_("revenue (365 days)"),
    )
    avg_basket = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, verbose_name=_("average basket"),
    )
    last_activity_at = models.DateTimeField(
        null=True, blank=True, db_index=True, verbose_name=_("last activity"),
    )
    email_opens_30d = models.PositiveIntegerField(
        default=0, verbose_name=_("email opens (30 days)"),
    )
    email_clicks_30d = models.PositiveIntegerField(
        default=0, verbose_name=_("email clicks (30 days)"),
    )
    # RFM quintiles, 1 (low) to 5 (high); null for profiles without purchases.
    rfm_recency = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("RFM recency"),
    )
    rfm_frequency = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("RFM frequency"),
    )
    rfm_monetary = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("RFM monetary value"),
    )
    rfm_score = models.PositiveSmallIntegerField(
        null=True, blank=True, db_index=True, verbose_name=_("RFM score"),
    )
    computed_at = models.DateTimeField(verbose_name=_("computed at"))

    class Meta:
        verbose_name = _("profile traits")
        verbose_name_plural = _("profile traits")

    def __str__(self) -> str:
        return f"traits of {self.profile_id}"


class Segment(models.Model):
    name = models.CharField(max_length=120, verbose_name=_("name"))
    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("identifier"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    # The rule tree (see segments.rules); validated before it is stored.
    definition = models.JSONField(verbose_name=_("rules"))
    schema_version = models.PositiveSmallIntegerField(default=1, verbose_name=_("schema version"))
    # Cron expression (minute hour day month weekday), Europe/Paris; "" = manual only.
    schedule = models.CharField(
        max_length=100, default="0 * * * *", blank=True, verbose_name=_("schedule"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    # Derived from the definition on save: what re-evaluation on ingest listens to.
    event_types = models.JSONField(default=list, blank=True, verbose_name=_("event types"))
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="used_by", blank=True, verbose_name=_("depends on")
    )
    size = models.PositiveIntegerField(default=0, verbose_name=_("size"))
    last_success_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("last successful run"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
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

    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="runs", verbose_name=_("segment"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"),
    )
    trigger = models.CharField(
        max_length=16, choices=Trigger.choices, default=Trigger.MANUAL, verbose_name=_("trigger"),
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    # Lease: a running run whose heartbeat is older than the lease is considered dead.
    heartbeat_at = models.DateTimeField(verbose_name=_("heartbeat at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    worker = models.CharField(max_length=200, blank=True, verbose_name=_("worker"))
    size = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("size"))
    added = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("added"))
    removed = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("removed"))
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (ms)"),
    )
    jaccard = models.FloatField(null=True, blank=True, verbose_name=_("Jaccard index"))
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    error = models.TextField(blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("segment run")
        verbose_name_plural = _("segment runs")
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

    name = models.CharField(max_length=120, verbose_name=_("name"))
    # Rules name the model by its slug: {"model": "purchase-30d", "score": {"gte": 0.7}}.
    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("identifier"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    algorithm = models.CharField(
        max_length=24, choices=Algorithm.choices, verbose_name=_("algorithm"),
    )
    # {"traits": [...], "attributes": [...], "scaling": "standard" | "minmax", "log": bool}
    features = models.JSONField(verbose_name=_("features"))
    # Training knobs (k range, horizon, folds...); validated by segments.ml.spec.
    params = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    # Clustering only: a rule tree of who is clustered and scored ({}: everyone).
    population = models.JSONField(default=dict, blank=True, verbose_name=_("population"))
    # GDPR Art. 21/22: only profiles allowed for the "profiling" purpose are used.
    requires_consent = models.BooleanField(default=True, verbose_name=_("requires consent"))
    # Cron expression (Europe/Paris) of retraining; "" = on demand only.
    train_schedule = models.CharField(
        max_length=100, default="0 5 * * 1", blank=True, verbose_name=_("training schedule"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("predictive model")
        verbose_name_plural = _("predictive models")
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

    model = models.ForeignKey(
        SegmentModel, on_delete=models.CASCADE, related_name="versions", verbose_name=_("model"),
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.TRAINING, verbose_name=_("status"),
    )
    is_active = models.BooleanField(default=False, verbose_name=_("active"))
    trigger = models.CharField(max_length=16, default="manual", verbose_name=_("trigger"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (ms)"),
    )
    # The estimator actually fitted (for "best": the winner of the comparison).
    algorithm = models.CharField(max_length=24, blank=True, verbose_name=_("algorithm"))
    # Effective parameters: features, cutoff, horizon, k, eps, calibration...
    params = models.JSONField(default=dict, blank=True, verbose_name=_("parameters"))
    metrics = models.JSONField(default=dict, blank=True, verbose_name=_("metrics"))
    # name -> SVG document (elbow, silhouette, roc, calibration).
    charts = models.JSONField(default=dict, blank=True, verbose_name=_("charts"))
    # Clustering: one summary per cluster (size, feature means vs overall).
    clusters = models.JSONField(default=list, blank=True, verbose_name=_("clusters"))
    # Names marketers give the clusters: {"0": "bargain hunters", ...}.
    cluster_names = models.JSONField(default=dict, blank=True, verbose_name=_("cluster names"))
    # Score distribution at training (bin edges and shares), the reference of drift (PSI).
    score_reference = models.JSONField(default=dict, blank=True, verbose_name=_("score reference"))
    # Against the version active before: {"against": n, "psi": x} or {"against": n, "ari": x}.
    drift = models.JSONField(default=dict, blank=True, verbose_name=_("drift"))
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    # joblib of the fitted scikit-learn Pipeline: aggregates only, no row of any person.
    artifact = models.BinaryField(null=True, blank=True, verbose_name=_("artifact"))
    artifact_sha256 = models.CharField(
        max_length=64, blank=True, verbose_name=_("artifact SHA-256"),
    )

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
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

    version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="runs", verbose_name=_("version"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"),
    )
    trigger = models.CharField(max_length=16, default="manual", verbose_name=_("trigger"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    profiles = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("profiles scored"))
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("duration (ms)"),
    )
    # Population stability index of these scores against the version's training ones.
    psi = models.FloatField(
        null=True, blank=True, verbose_name=_("PSI (population stability index)"),
    )
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    error = models.TextField(blank=True, verbose_name=_("error"))

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
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
