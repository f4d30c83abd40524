"""Runs REST API (API.md Resources, "Starting a run (X1)"): history, start, detail, stop / retry / fresh
run, rerun, confirm, approve / reject, logs by offset, build packages and their downloads.

Every view loads the project (visible, else 404) and the pipeline through the enforcement point: reads
need view, mutations execute (404 invisible, 403 not allowed, A6). Approving or rejecting a review needs
only view: being a named reviewer is the right (X7), checked by the engine (403 for anyone else).
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from devops_console.core.api.errors import Conflict
from devops_console.core.api.pagination import Pagination
from devops_console.core.parsing import parse_uint
from devops_console.core.permissions import EXECUTE, VIEW
from pipelines.permissions import load_pipeline
from pipelines.runs import views as pages
from pipelines.runs.actions import ActionRefused, perform
from pipelines.runs.api_serializers import (
    NO_LOG_TYPES,
    LogSerializer,
    PackageSerializer,
    RunDetailSerializer,
    RunSerializer,
    StartRunSerializer,
)
from pipelines.runs.forms import HistoryFilterForm
from pipelines.runs.models import BuildPackage, Run, StageRun, State, TaskRun
from pipelines.runs.start import start_run

START_KEYS = ("branch", "tag", "parameters", "tasks")
LOG_LIMIT = 1024 * 1024


class RunsAPIView(APIView):
    """Base: ``self.project`` and ``self.pipeline`` loaded for the request's action."""

    permission_classes = [IsAuthenticated]
    error_app = "PIPELINES"
    write_action = EXECUTE

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        action = VIEW if request.method in SAFE_METHODS else self.write_action
        self.project, self.pipeline = load_pipeline(request.user, kwargs["project_id"], kwargs["pipeline_id"], action)

    def get_run(self, detail: bool = False) -> Run:
        queryset = Run.objects.restrict(self.request.user, VIEW).filter(pipeline=self.pipeline)
        if detail:
            stages = Prefetch(
                "stages", queryset=StageRun.objects.select_related("confirmed_by").prefetch_related("tasks")
            )
            queryset = queryset.select_related("triggered_by").prefetch_related(stages)
        run = queryset.filter(number=self.kwargs["number"]).first()
        if run is None:
            raise Http404
        run.pipeline = self.pipeline
        return run

    def get_task(self, run: Run) -> TaskRun:
        task = TaskRun.objects.filter(stage__run=run, pk=self.kwargs["task_run_id"]).select_related("stage").first()
        if task is None:
            raise Http404
        return task

    def context(self, **extra) -> dict:
        return {"request": self.request, "project_id": self.project.pk, **extra}

    def detail(self, run: Run, status_code=status.HTTP_200_OK, **extra) -> Response:
        data = RunDetailSerializer(run, context=self.context()).data
        return Response({**data, **extra}, status=status_code)


class RunListView(RunsAPIView):
    """History (X4) and start (X1)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="ISO date (YYYY-MM-DD); default 6 days before until"),
            OpenApiParameter(
                "until", str, description="ISO date; default today. At most 31 days per view (400 beyond)."
            ),
            OpenApiParameter("days", int, enum=[7, 14, 31]),
            OpenApiParameter("state", str),
            OpenApiParameter("trigger", str),
            OpenApiParameter("user", str, description="Username of who started the run."),
        ],
        responses=RunSerializer(many=True),
    )
    def get(self, request, *args, **kwargs):
        form = HistoryFilterForm(request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError({key: list(errors) for key, errors in form.errors.items()})
        runs = form.filter(Run.objects.restrict(request.user, VIEW).filter(pipeline=self.pipeline))
        runs = runs.select_related("triggered_by").order_by("-number")
        paginator = Pagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        queued = list(
            Run.objects.filter(pipeline=self.pipeline, state=State.QUEUED)
            .order_by("number")
            .values_list("number", flat=True)
        )
        data = RunSerializer(page, many=True, context=self.context(queued=queued)).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=StartRunSerializer, responses={201: RunDetailSerializer})
    def post(self, request, *args, **kwargs):
        body = request.data
        if not isinstance(body, dict):
            raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        unknown = sorted(set(body) - set(START_KEYS))
        if unknown:
            raise exceptions.ValidationError({key: [_("Unknown field.")] for key in unknown[:10]})
        run = start_run(request.user, self.pipeline, **{key: body.get(key) for key in START_KEYS})
        response = self.detail(self.get_run_by_number(run.number), status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response

    def get_run_by_number(self, number: int) -> Run:
        self.kwargs["number"] = number
        return self.get_run(detail=True)


class RunDetailView(RunsAPIView):
    @extend_schema(responses=RunDetailSerializer)
    def get(self, request, *args, **kwargs):
        return self.detail(self.get_run(detail=True))


class RunActionView(RunsAPIView):
    """POST …/stop/, …/retry/, …/fresh/, …/tasks/{id}/rerun|approve|reject/, …/stages/{id}/confirm/."""

    action = ""

    def initial(self, request, *args, **kwargs):
        self.write_action = VIEW if self.action in ("approve", "reject") else EXECUTE
        super().initial(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: RunDetailSerializer, 201: RunDetailSerializer})
    def post(self, request, *args, **kwargs):
        run = self.get_run()
        task = self.get_task(run) if "task_run_id" in kwargs else None
        stage = None
        if "stage_run_id" in kwargs:
            stage = StageRun.objects.filter(run=run, pk=kwargs["stage_run_id"]).first()
            if stage is None:
                raise Http404
        try:
            result = perform(request.user, run, self.action, stage=stage, task=task)
        except ActionRefused as exc:
            if exc.status == 403:
                raise exceptions.PermissionDenied(exc.message) from None
            raise Conflict(exc.message) from None
        if isinstance(result, Run):
            self.kwargs["number"] = result.number
            return self.detail(self.get_run(detail=True), status.HTTP_201_CREATED)
        return self.detail(self.get_run(detail=True), message=result)


class LogView(RunsAPIView):
    @extend_schema(parameters=[OpenApiParameter("offset", int)], responses=LogSerializer)
    def get(self, request, *args, **kwargs):
        task = self.get_task(self.get_run())
        if task.type in NO_LOG_TYPES:
            raise exceptions.NotFound(_("Delay and manual-review tasks have no log."))
        raw = request.query_params.get("offset", "0")
        offset = parse_uint(raw, 18)
        if offset is None:
            raise exceptions.ValidationError({"offset": [_("Give a byte offset of 0 or more.")]})
        piece = pages.log_piece(task, offset, whole_lines=False, limit=LOG_LIMIT)
        return Response(piece)


class LogDownloadView(RunsAPIView):
    @extend_schema(responses={(200, "text/plain"): OpenApiResponse(description="The whole masked log.")})
    def get(self, request, *args, **kwargs):
        run = self.get_run()
        return pages.log_download(run, self.get_task(run))


class PackageListView(RunsAPIView):
    @extend_schema(responses=PackageSerializer(many=True))
    def get(self, request, *args, **kwargs):
        run = self.get_run()
        packages = BuildPackage.objects.restrict(request.user, VIEW).filter(run=run)
        packages = packages.select_related("task").order_by("-created", "-pk")
        paginator = Pagination()
        page = paginator.paginate_queryset(packages, request, view=self)
        base = RunDetailSerializer(run, context=self.context()).get_url(run)
        return paginator.get_paginated_response(PackageSerializer(page, many=True, context={"base": base}).data)


class PackageDownloadView(RunsAPIView):
    @extend_schema(
        operation_id="runs_package_download",
        responses={(200, "application/octet-stream"): OpenApiResponse(description="The package file.")},
    )
    def get(self, request, *args, **kwargs):
        packages = BuildPackage.objects.restrict(request.user, VIEW).filter(run=self.get_run())
        package = packages.filter(pk=kwargs["package_id"]).first()
        if package is None:
            raise Http404
        return pages.package_download(package)


class PackagesZipView(RunsAPIView):
    @extend_schema(
        operation_id="runs_packages_download_all",
        responses={(200, "application/zip"): OpenApiResponse(description="The newest 10 packages.")},
    )
    def get(self, request, *args, **kwargs):
        return pages.packages_zip(self.get_run())
