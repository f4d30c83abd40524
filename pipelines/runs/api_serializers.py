"""Representations of runs for the API (API.md) — and the snapshot comparison the run page shows (X5).

Secret values never appear: a run's ``parameters`` hold only non-secret values (secret runtime values are
stored encrypted apart, R4) and ``secret_parameters`` lists the names of the secret ones.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from pipelines.runs.actions import reviewers_of
from pipelines.runs.models import BuildPackage, Run, StageRun, TaskRun

NO_LOG_TYPES = ("delay", "manual_review")


def seconds(start, end) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def format_duration(start, end) -> str:
    """``1h 02m 03s`` / ``2m 05s`` / ``7s``; empty while not finished."""
    total = seconds(start, end)
    if total is None:
        return ""
    total = int(round(total))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _comparable(definition: dict) -> dict:
    """What decides how a run executes: sources, parameters (auto-increment values move on after every
    fresh run, R6, so their current value is left out) and stages."""
    params = [
        {k: v for k, v in p.items() if not (p.get("type") == "auto_increment" and k == "default") and k != "value_set"}
        for p in definition.get("parameters", [])
    ]
    return {"sources": definition.get("sources", []), "parameters": params, "stages": definition.get("stages", [])}


def snapshot_changes(snapshot: dict, current: dict) -> list[str]:
    """A short summary of how the pipeline's current definition differs from a run's snapshot."""
    old, new = _comparable(snapshot), _comparable(current)
    if old == new:
        return []
    changes: list[str] = []
    if old["sources"] != new["sources"]:
        changes.append(_("sources changed"))
    old_p, new_p = ({p["name"]: p for p in d["parameters"]} for d in (old, new))
    changes += [_("parameter %(name)s added") % {"name": n} for n in new_p if n not in old_p]
    changes += [_("parameter %(name)s removed") % {"name": n} for n in old_p if n not in new_p]
    changes += [_("parameter %(name)s changed") % {"name": n} for n in old_p if n in new_p and old_p[n] != new_p[n]]
    old_s, new_s = ({s["name"]: s for s in d["stages"]} for d in (old, new))
    changes += [_("stage %(name)s added") % {"name": n} for n in new_s if n not in old_s]
    changes += [_("stage %(name)s removed") % {"name": n} for n in old_s if n not in new_s]
    for name in (n for n in old_s if n in new_s):
        before, after = old_s[name], new_s[name]
        old_t, new_t = ({t["name"]: t for t in s["tasks"]} for s in (before, after))
        changes += [_("task %(name)s added") % {"name": f"{name}/{t}"} for t in new_t if t not in old_t]
        changes += [_("task %(name)s removed") % {"name": f"{name}/{t}"} for t in old_t if t not in new_t]
        changes += [
            _("task %(name)s changed") % {"name": f"{name}/{t}"} for t in old_t if t in new_t and old_t[t] != new_t[t]
        ]
        strip = ("tasks",)
        if {k: v for k, v in before.items() if k not in strip} != {k: v for k, v in after.items() if k not in strip}:
            changes.append(_("stage %(name)s settings changed") % {"name": name})
        elif list(old_t) != list(new_t) and set(old_t) == set(new_t):
            changes.append(_("stage %(name)s: tasks reordered") % {"name": name})
    if [s for s in old_s if s in new_s] != [s for s in new_s if s in old_s]:
        changes.append(_("stages reordered"))
    return changes or [_("configuration changed")]


def _base(project_id: int, pipeline_id: int, number: int) -> str:
    return reverse("api-run-detail", args=[project_id, pipeline_id, number])


class TaskRunSerializer(serializers.ModelSerializer):
    duration = serializers.SerializerMethodField()
    reviewers = serializers.SerializerMethodField()
    has_log = serializers.SerializerMethodField()
    log_url = serializers.SerializerMethodField()

    class Meta:
        model = TaskRun
        fields = [
            "id",
            "index",
            "name",
            "type",
            "state",
            "selected",
            "attempt",
            "exit_code",
            "metrics",
            "message",
            "approvals",
            "reviewers",
            "log_size",
            "has_log",
            "log_url",
            "started",
            "finished",
            "duration",
        ]

    def get_duration(self, task) -> float | None:
        return seconds(task.started, task.finished)

    def get_reviewers(self, task) -> list[str]:
        return reviewers_of(self.context["run"], task)

    def get_has_log(self, task) -> bool:
        return task.type not in NO_LOG_TYPES

    def get_log_url(self, task) -> str | None:
        if task.type in NO_LOG_TYPES:
            return None
        return f"{self.context['base']}tasks/{task.pk}/log/"


class StageRunSerializer(serializers.ModelSerializer):
    confirmed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration = serializers.SerializerMethodField()
    tasks = serializers.SerializerMethodField()

    class Meta:
        model = StageRun
        fields = [
            "id",
            "index",
            "name",
            "state",
            "manual",
            "parallel",
            "confirmed_by",
            "gate_result",
            "started",
            "finished",
            "duration",
            "tasks",
        ]

    def get_duration(self, stage) -> float | None:
        return seconds(stage.started, stage.finished)

    def get_tasks(self, stage) -> list[dict]:
        return TaskRunSerializer(stage.tasks.all(), many=True, context=self.context).data


class RunSerializer(serializers.ModelSerializer):
    """A run in the history list."""

    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "number",
            "state",
            "queue_position",
            "trigger",
            "trigger_detail",
            "triggered_by",
            "branch",
            "tag",
            "commit_id",
            "commit_message",
            "error",
            "created",
            "started",
            "finished",
            "duration",
            "url",
            "web_url",
        ]

    def get_duration(self, run) -> float | None:
        return seconds(run.started, run.finished)

    def get_queue_position(self, run) -> int | None:
        """X3: 1 for the next run to start; null when not queued."""
        queued = self.context.get("queued")
        if queued is None:
            from pipelines.runs.start import queue_position

            return queue_position(run)
        return queued.index(run.number) + 1 if run.number in queued else None

    def get_url(self, run) -> str:
        return _base(self.context["project_id"], run.pipeline_id, run.number)

    def get_web_url(self, run) -> str:
        return reverse("run-detail", args=[self.context["project_id"], run.pipeline_id, run.number])


class RunDetailSerializer(RunSerializer):
    """A run with its stages and tasks, parameters (no secret values), sources and snapshot state."""

    parameters = serializers.JSONField(read_only=True)
    secret_parameters = serializers.SerializerMethodField()
    snapshot_changed = serializers.SerializerMethodField()
    snapshot_changes = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    packages_url = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "parameters",
            "secret_parameters",
            "sources",
            "selected_tasks",
            "snapshot_changed",
            "snapshot_changes",
            "stages",
            "packages_url",
        ]

    def get_secret_parameters(self, run) -> list[str]:
        return sorted({p["name"] for p in run.snapshot.get("parameters", []) if p.get("secret")})

    def _changes(self, run) -> list[str]:
        if "changes" not in self.context:
            self.context["changes"] = snapshot_changes(run.snapshot, run.pipeline.definition)
        return self.context["changes"]

    def get_snapshot_changed(self, run) -> bool:
        return bool(self._changes(run))

    def get_snapshot_changes(self, run) -> list[str]:
        return self._changes(run)

    def get_stages(self, run) -> list[dict]:
        context = {**self.context, "run": run, "base": self.get_url(run)}
        return StageRunSerializer(run.stages.all(), many=True, context=context).data

    def get_packages_url(self, run) -> str:
        return self.get_url(run) + "packages/"


class PackageSerializer(serializers.ModelSerializer):
    """A build package (K1) with its download URL."""

    task = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = BuildPackage
        fields = ["id", "name", "version", "filename", "size", "sha256", "task", "created", "download_url"]

    def get_task(self, package) -> str | None:
        return package.task.name if package.task_id and package.task else None

    def get_download_url(self, package) -> str:
        return f"{self.context['base']}packages/{package.pk}/download/"


class StartRunSerializer(serializers.Serializer):
    """API.md "Starting a run (X1)" — the values are checked by ``start_run``."""

    branch = serializers.CharField(required=False, help_text="Run on this branch.")
    tag = serializers.CharField(required=False, help_text="Or on this tag (repository sources only).")
    parameters = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Runtime parameters only."
    )
    tasks = serializers.ListField(
        child=serializers.CharField(), required=False, help_text='"<stage name>/<task name>", … (default all)'
    )


class LogSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="Masked log text from the offset.")
    next_offset = serializers.IntegerField(help_text="Ask for this offset next.")
    complete = serializers.BooleanField(help_text="The task has finished and this is the end of its log.")
    size = serializers.IntegerField(help_text="The log's size in bytes so far.")
