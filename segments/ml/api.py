"""Model endpoints: definitions, versions with metrics and charts, training, activation,
scoring, cluster summaries. Marketers read and train; the artifact never leaves."""

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp.api.auth import scope_required
from segments.ml.registry import (
    SegmentModelInvalid,
    model_version_activate,
    segment_model_delete,
    segment_model_save,
)
from segments.ml.serializers import (
    ClusterNamesSerializer,
    ScoringRunSerializer,
    SegmentModelInputSerializer,
    SegmentModelOutputSerializer,
    VersionSerializer,
    VersionSummarySerializer,
)
from segments.models import ModelScoringRun, ModelVersion, SegmentModel

READ = [IsAuthenticated, scope_required("read", "marketer")]
WRITE = [IsAuthenticated, scope_required("admin", "marketer")]
# Heavy columns stay in the database unless a view needs them.
_LIGHT = ("artifact", "charts", "score_reference")


def _permissions(request: Request) -> list:
    return [p() for p in (READ if request.method in ("GET", "HEAD", "OPTIONS") else WRITE)]


def _invalid(exc: SegmentModelInvalid) -> Response:
    errors = [{"path": path, "message": message} for path, message in exc.errors]
    return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)


def model_list() -> QuerySet[SegmentModel]:
    active = ModelVersion.objects.filter(is_active=True).defer(*_LIGHT, "params", "metrics",
                                                               "clusters")
    return SegmentModel.objects.prefetch_related(
        Prefetch("versions", queryset=active, to_attr="active_versions")).order_by("name")


def _model(slug: str) -> SegmentModel:
    return get_object_or_404(model_list(), slug=slug)


def _version(slug: str, number: int) -> ModelVersion:
    return get_object_or_404(ModelVersion.objects.select_related("model").defer("artifact"),
                             model__slug=slug, number=number)


def _save(request: Request, model: SegmentModel | None) -> SegmentModel:
    data = SegmentModelInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = {**data.validated_data}
    values["algorithm"] = values["algorithm"] or None
    return segment_model_save(actor=request.user.actor, model=model, **values)


class SegmentModelListApi(APIView):
    def get_permissions(self) -> list:
        return _permissions(self.request)

    @extend_schema(responses=SegmentModelOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SegmentModelOutputSerializer(model_list(), many=True).data)

    @extend_schema(request=SegmentModelInputSerializer,
                   responses={201: SegmentModelOutputSerializer})
    def post(self, request: Request) -> Response:
        try:
            model = _save(request, None)
        except SegmentModelInvalid as exc:
            return _invalid(exc)
        return Response(SegmentModelOutputSerializer(_model(model.slug)).data,
                        status=status.HTTP_201_CREATED)


class SegmentModelDetailApi(APIView):
    def get_permissions(self) -> list:
        return _permissions(self.request)

    @extend_schema(responses=SegmentModelOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(SegmentModelOutputSerializer(_model(slug)).data)

    @extend_schema(request=SegmentModelInputSerializer, responses=SegmentModelOutputSerializer)
    def put(self, request: Request, slug: str) -> Response:
        try:
            model = _save(request, _model(slug))
        except SegmentModelInvalid as exc:
            return _invalid(exc)
        return Response(SegmentModelOutputSerializer(_model(model.slug)).data)

    def delete(self, request: Request, slug: str) -> Response:
        segment_model_delete(model=_model(slug), actor=request.user.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentModelTrainApi(APIView):
    permission_classes = WRITE

    def post(self, request: Request, slug: str) -> Response:
        """Queue the training of a new version (activated and scored when it succeeds)."""
        from segments.tasks import segment_model_train_task

        result = segment_model_train_task.delay(_model(slug).pk, "manual")
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)


class SegmentModelScoreApi(APIView):
    permission_classes = WRITE

    def post(self, request: Request, slug: str) -> Response:
        """Queue a scoring of every eligible profile with the active version."""
        from segments.tasks import segment_model_score_task

        result = segment_model_score_task.delay(_model(slug).pk, "manual")
        return Response({"task_id": result.id}, status=status.HTTP_202_ACCEPTED)


class ModelVersionListApi(APIView):
    permission_classes = READ

    @extend_schema(responses=VersionSummarySerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        versions = (ModelVersion.objects.filter(model=_model(slug))
                    .defer(*_LIGHT, "params", "clusters").order_by("-number")[:100])
        return Response(VersionSummarySerializer(versions, many=True).data)


class ModelVersionDetailApi(APIView):
    def get_permissions(self) -> list:
        return _permissions(self.request)

    @extend_schema(responses=VersionSerializer)
    def get(self, request: Request, slug: str, number: int) -> Response:
        """Parameters, metrics, cluster summaries, drift, warnings and chart URLs."""
        return Response(VersionSerializer(_version(slug, number)).data)

    @extend_schema(request=ClusterNamesSerializer, responses=VersionSerializer)
    def patch(self, request: Request, slug: str, number: int) -> Response:
        """Name the clusters: {"cluster_names": {"0": "bargain hunters"}}."""
        from segments.ml.registry import cluster_names_set

        data = ClusterNamesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = cluster_names_set(version=_version(slug, number),
                                        actor=request.user.actor,
                                        names=data.validated_data["cluster_names"])
        except SegmentModelInvalid as exc:
            return _invalid(exc)
        return Response(VersionSerializer(version).data)


class ModelVersionActivateApi(APIView):
    permission_classes = WRITE

    def post(self, request: Request, slug: str, number: int) -> Response:
        """Make this version the active one (e.g. a rollback); its scoring is queued."""
        version = _version(slug, number)
        if version.status != ModelVersion.Status.READY:
            return Response({"errors": [{"path": "version",
                                         "message": f"version is {version.status}"}]},
                            status=status.HTTP_409_CONFLICT)
        model_version_activate(version=version, actor=request.user.actor)
        return Response(VersionSummarySerializer(version).data)


class ModelVersionChartApi(APIView):
    permission_classes = READ

    def get(self, request: Request, slug: str, number: int, name: str) -> HttpResponse:
        """One chart of the version as SVG (elbow, silhouette, bic, k_distance, sizes, roc,
        calibration, comparison)."""
        version = _version(slug, number)
        svg = (version.charts or {}).get(name)
        if svg is None:
            return HttpResponse(status=404)
        return HttpResponse(svg, content_type="image/svg+xml")


class SegmentModelClustersApi(APIView):
    permission_classes = READ

    def get(self, request: Request, slug: str) -> Response:
        """The active version's clusters: size, feature means against everyone's, names."""
        version = get_object_or_404(ModelVersion.objects.defer("artifact"),
                                    model=_model(slug), is_active=True)
        names = version.cluster_names or {}
        clusters = [{**c, "name": names.get(str(c["cluster"]), "")} for c in version.clusters]
        return Response({"version": version.number, "clusters": clusters})


class SegmentModelRunsApi(APIView):
    permission_classes = READ

    @extend_schema(responses=ScoringRunSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        runs = (ModelScoringRun.objects.filter(version__model=_model(slug))
                .select_related("version").defer("version__artifact", "version__charts")
                .order_by("-started_at")[:100])
        return Response(ScoringRunSerializer(runs, many=True).data)
