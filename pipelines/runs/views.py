"""Run pages (X1–X7, K1): the start dialog, the live run page with its htmx partials (stage/task graph,
log panel that appends by offset), the actions, the history with its date range, and the downloads
(full log, one package, the newest 10 packages as a zip — all streamed, in constant memory)."""

from __future__ import annotations

import posixpath
import re
import zipfile

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, TemplateView

from devops_console.core.parsing import parse_uint
from devops_console.core.permissions import EXECUTE, VIEW
from pipelines.models import HostGroup
from pipelines.runs import ansi, logs
from pipelines.runs.actions import ActionRefused, perform, reviewers_of
from pipelines.runs.api_serializers import NO_LOG_TYPES, format_duration, snapshot_changes
from pipelines.runs.forms import SHORTCUTS, HistoryFilterForm, StartRunForm, first_error
from pipelines.runs.models import FINISHED, BuildPackage, Run, StageRun, State, TaskRun
from pipelines.runs.start import queue_position, start_run
from pipelines.runs.summary import attach_stage_badges, prepare_run_columns
from pipelines.views.base import PipelineViewMixin

PACKAGES_SHOWN = 10  # X5: the newest 10 build packages
TAIL_BYTES = 256 * 1024  # the run page shows at most this much of a log; the download has all of it
PIECE_BYTES = 256 * 1024  # at most this much new log text per poll
HISTORY_PAGE_SIZE = 20


# ---- helpers shared with the API (pipelines.runs.api) ----------------------------------------------------


def log_piece(task: TaskRun, offset: int, *, whole_lines: bool, limit: int = PIECE_BYTES) -> dict:
    """New log text from ``offset``; ``complete`` once the task finished and nothing more will come.
    With ``whole_lines`` a running task's trailing partial line waits for its newline."""
    state, pid, size = TaskRun.objects.filter(pk=task.pk).values_list("state", "pid", "log_size").get()
    finished = state in FINISHED and pid is None  # read before the log: a finished task wrote it all
    text, next_offset = logs.read(task, offset, limit=limit)
    if whole_lines and not finished and "\n" in text:
        cut = text.rfind("\n") + 1
        next_offset -= len(text[cut:].encode())
        text = text[:cut]
    elif whole_lines and not finished:
        text, next_offset = "", offset
    return {"text": text, "next_offset": next_offset, "complete": finished and next_offset >= size, "size": size}


def log_download(run: Run, task: TaskRun) -> StreamingHttpResponse:
    """The whole masked log, streamed chunk by chunk (constant memory)."""
    if task.type in NO_LOG_TYPES:
        raise Http404(_("Delay and manual-review tasks have no log."))
    response = StreamingHttpResponse(
        (text.encode() for text in logs.iter_all(task)), content_type="text/plain; charset=utf-8"
    )
    name = _safe(f"{run.pipeline.name}-{run.number}-{task.stage.name}-{task.name}") + ".log"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def package_download(package: BuildPackage) -> FileResponse:
    if not package.file or not package.file.storage.exists(package.file.name):
        raise Http404(_("The package file is missing from the release repository."))
    name = posixpath.basename(package.filename) or package.file.name
    return FileResponse(package.file.open("rb"), as_attachment=True, filename=name)


def newest_packages(run: Run):
    return run.packages.select_related("task").order_by("-created", "-pk")[:PACKAGES_SHOWN]


def packages_zip(run: Run) -> StreamingHttpResponse:
    """X5 "download all": the newest 10 packages as one zip, written while it is sent."""
    packages = [p for p in newest_packages(run) if p.file and p.file.storage.exists(p.file.name)]
    if not packages:
        raise Http404(_("This run has no build packages."))
    response = StreamingHttpResponse(_zip_stream(packages), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{_safe(run.pipeline.name)}-{run.number}-packages.zip"'
    return response


def _safe(text: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", text).strip("._") or "file"


class _Sink:
    """A write-only, non-seekable file for ``zipfile`` whose bytes are taken out as they come."""

    def __init__(self):
        self.parts, self.position = [], 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _zip_stream(packages):
    sink, used = _Sink(), set()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for package in packages:
            path = "/".join(_safe(part) for part in package.filename.split("/") if part not in ("", ".", ".."))
            name = f"{_safe(package.name)}-{_safe(package.version)}/{path}"
            base, n = name, 1
            while name in used:
                n += 1
                name = f"{base}.{n}"
            used.add(name)
            info = zipfile.ZipInfo(name, date_time=timezone.localtime(package.created).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with package.file.open("rb") as source, archive.open(info, mode="w", force_zip64=True) as target:
                for block in iter(lambda: source.read(64 * 1024), b""):  # noqa: B023 — consumed right here
                    target.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


# ---- pages --------------------------------------------------------------------------------------------


class RunPageMixin(PipelineViewMixin):
    """A run of a visible pipeline: reading needs view, acting needs execute (A6)."""

    pipeline_post_action = EXECUTE

    def get_run(self) -> Run:
        if not hasattr(self, "run"):
            stages = Prefetch(
                "stages", queryset=StageRun.objects.select_related("confirmed_by").prefetch_related("tasks")
            )
            queryset = (
                Run.objects.restrict(self.request.user, VIEW).select_related("triggered_by").prefetch_related(stages)
            )
            self.run = queryset.filter(pipeline=self.pipeline, number=self.kwargs["number"]).first()
            if self.run is None:
                raise Http404
            self.run.pipeline = self.pipeline
        return self.run

    def get_task(self) -> TaskRun:
        task = (
            TaskRun.objects.filter(stage__run=self.get_run(), pk=self.kwargs["task_id"]).select_related("stage").first()
        )
        if task is None:
            raise Http404
        return task

    def run_url(self, run=None, **query) -> str:
        run = run or self.get_run()
        url = reverse("run-detail", args=[self.project.pk, self.pipeline.pk, run.number])
        return url + (f"?task={query['task']}" if query.get("task") else "")


def _pick_task(tasks: list[TaskRun], wanted) -> TaskRun | None:
    with_log = [t for t in tasks if t.type not in NO_LOG_TYPES]
    for task in tasks:
        if str(task.pk) == str(wanted):
            return task
    running = [t for t in with_log if t.state == State.RUNNING]
    started = [t for t in with_log if t.started]
    selected = [t for t in with_log if t.selected]
    for candidates, index in ((running, 0), (started, -1), (selected, 0), (with_log, 0)):
        if candidates:
            return candidates[index]
    return None


class RunLiveView(RunPageMixin, TemplateView):
    """The part of the run page that htmx refreshes every second while the run is not finished (X2)."""

    template_name = "runs/_live.html"
    http_method_names = ["get"]

    def live_context(self) -> dict:
        run, user, now = self.get_run(), self.request.user, timezone.now()
        can_execute = self.pipeline.can_execute
        finished = run.state in FINISHED
        stages = list(run.stages.all())
        tasks = [task for stage in stages for task in stage.tasks.all()]
        for stage in stages:
            stage.duration_text = format_duration(stage.started, stage.finished or (None if finished else now))
            stage.can_confirm = can_execute and stage.manual and stage.state == State.WAITING
        for task in tasks:
            task.duration_text = format_duration(task.started, task.finished or (None if finished else now))
            task.has_log = task.type not in NO_LOG_TYPES
            task.reviewers = reviewers_of(run, task)
            task.can_review = task.state == State.WAITING and user.username in task.reviewers
            task.can_rerun = can_execute and finished and task.has_log and task.started is not None
        packages = list(newest_packages(run))
        changes = snapshot_changes(run.snapshot, self.pipeline.definition) if run.state in FINISHED else []
        selected = _pick_task(tasks, self.request.GET.get("task"))
        return {
            "run": run,
            "stages": stages,
            "finished": finished,
            "can_execute": can_execute,
            "selected_task": selected,
            "duration_text": format_duration(run.started, run.finished or (None if finished else now)),
            "queue_position": queue_position(run),
            "packages": packages,
            "package_count": run.packages.count() if len(packages) == PACKAGES_SHOWN else len(packages),
            "changes": changes,
            "can_retry": can_execute and run.state in (State.FAILED, State.STOPPED),
            "secret_names": sorted(run.secrets.values_list("name", flat=True)),
        }

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **self.live_context()}


class RunDetailView(RunLiveView):
    """X2, X5: the run page — live graph, actions, packages and the log of the selected task."""

    template_name = "runs/detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["crumb"] = f"#{context['run'].number}"
        task = context["selected_task"]
        if task is not None and task.has_log:
            size = TaskRun.objects.filter(pk=task.pk).values_list("log_size", flat=True).get()
            start = max(0, size - TAIL_BYTES)
            piece = log_piece(task, start, whole_lines=True, limit=TAIL_BYTES + 1)
            text = piece["text"]
            if start and "\n" in text:  # began inside a line: show from the next one
                text = text[text.index("\n") + 1 :]
            html, sgr = ansi.to_html(text)
            context.update(log_html=html, log_truncated=bool(start), poller=self.poller(task, piece, sgr))
        return context

    def poller(self, task, piece, sgr) -> dict:
        return {
            "task": task,
            "offset": piece["next_offset"],
            "complete": piece["complete"],
            "sgr": sgr,
            "url": reverse("run-log", args=[self.project.pk, self.pipeline.pk, self.get_run().number, task.pk]),
        }


class LogPieceView(RunPageMixin, TemplateView):
    """htmx: the new log text from ``offset`` (ANSI colours as HTML) and the poller for the next offset."""

    template_name = "runs/_log_piece.html"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        task = self.get_task()
        if task.type in NO_LOG_TYPES:
            raise Http404
        offset = parse_uint(self.request.GET.get("offset", "0"), 18) or 0
        piece = log_piece(task, offset, whole_lines=True)
        html, sgr = ansi.to_html(piece["text"], self.request.GET.get("sgr", ""))
        poller = RunDetailView.poller(self, task, piece, sgr)
        return {**super().get_context_data(**kwargs), "html": html, "poller": poller}


class LogDownloadView(RunPageMixin, View):
    def get(self, request, *args, **kwargs):
        return log_download(self.get_run(), self.get_task())


class PackageDownloadView(RunPageMixin, View):
    def get(self, request, *args, **kwargs):
        package = BuildPackage.objects.restrict(request.user, VIEW).filter(run=self.get_run(), pk=kwargs["package_id"])
        return package_download(package.first() or _missing())


class PackagesZipView(RunPageMixin, View):
    def get(self, request, *args, **kwargs):
        return packages_zip(self.get_run())


def _missing():
    raise Http404


class RunActionView(RunPageMixin, View):
    """POST: stop, retry, fresh (X2, X5); rerun, approve, reject a task (X5, X7); confirm a stage (X6)."""

    action = ""
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        # named reviewers act on their review with view permission: being named is the grant (X7)
        self.pipeline_post_action = VIEW if self.action in ("approve", "reject") else EXECUTE
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        run = self.get_run()
        task = self.get_task() if "task_id" in kwargs else None
        stage = None
        if "stage_id" in kwargs:
            stage = StageRun.objects.filter(run=run, pk=kwargs["stage_id"]).first() or _missing()
        try:
            result = perform(request.user, run, self.action, stage=stage, task=task)
        except ActionRefused as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, _("Could not start a fresh run: %(error)s") % {"error": "; ".join(exc.messages)})
        else:
            if isinstance(result, Run):
                messages.success(request, _("Run #%(n)s started with the latest configuration.") % {"n": result.number})
                return redirect(self.run_url(result))
            messages.success(request, result)
        return redirect(self.run_url(run, task=task.pk if task else request.POST.get("task")))


class StartRunView(PipelineViewMixin, FormView):
    """X1: the run dialog — branch or tag, tasks by stage, runtime parameters."""

    template_name = "runs/start.html"
    form_class = StartRunForm
    pipeline_action = EXECUTE
    pipeline_post_action = EXECUTE

    def get_form_kwargs(self):
        names = HostGroup.objects.filter(project=self.project).values_list("name", flat=True)
        return {**super().get_form_kwargs(), "pipeline": self.pipeline, "host_groups": list(names)}

    def form_valid(self, form):
        try:
            run = start_run(self.request.user, self.pipeline, **form.start_kwargs())
        except ValidationError as exc:
            form.apply_errors(exc)
            return self.form_invalid(form)
        messages.success(self.request, _("Run #%(n)s started.") % {"n": run.number})
        return redirect("run-detail", project_id=self.project.pk, pipeline_id=self.pipeline.pk, number=run.number)


def _active_days(query) -> int | None:
    """The shortcut the shown range corresponds to (7 when no range was asked for)."""
    if query.get("since") or query.get("until"):
        return None
    days = query.get("days") or "7"
    return parse_uint(days, 3)


class RunHistoryView(PipelineViewMixin, TemplateView):
    """X4: runs in a date range (default the last 7 days, at most 31), filters, pages — constant queries."""

    template_name = "runs/history.html"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = HistoryFilterForm(self.request.GET or None)
        runs = Run.objects.restrict(self.request.user, VIEW).filter(pipeline=self.pipeline)
        if form.is_bound and not form.is_valid():
            page, error = None, first_error(form)
        else:
            if not form.is_bound:
                form = HistoryFilterForm({})
                form.is_valid()
            runs = form.filter(runs).select_related("triggered_by")
            page, error = (
                Paginator(runs.order_by("-number"), HISTORY_PAGE_SIZE).get_page(self.request.GET.get("page")),
                "",
            )
            attach_stage_badges(page.object_list)
            prepare_run_columns(page.object_list, {self.pipeline.pk: self.pipeline.project_id})
        query = self.request.GET.copy()
        query.pop("page", None)
        users = Run.objects.filter(pipeline=self.pipeline, triggered_by__isnull=False)
        context.update(
            form=form,
            page_obj=page,
            range_error=error,
            shortcuts=SHORTCUTS,
            active_days=_active_days(self.request.GET),
            filter_query=urlencode({k: v for k in ("state", "trigger", "user") if (v := self.request.GET.get(k))}),
            query=query.urlencode(),
            window=(form.cleaned_data.get("since"), form.cleaned_data.get("until")) if not error else None,
            started_by=sorted(set(users.values_list("triggered_by__username", flat=True))),
        )
        return context
