"""Runs (SPEC §6): a run freezes a snapshot of the pipeline definition; stage runs and task runs carry
the X9 states; logs are stored durably in chunks; build packages go to the project's release
repository (K1)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from devops_console.core.fields import SecretField
from devops_console.core.models import Project
from devops_console.core.permissions import VIEW, RestrictedQuerySet, member_project_ids, nothing


class State(models.TextChoices):
    """X9 run / stage / task states."""

    QUEUED = "queued", _("Queued")
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Stopped")
    SKIPPED = "skipped", _("Skipped")


FINISHED = (State.SUCCEEDED, State.FAILED, State.STOPPED, State.SKIPPED)
ACTIVE = (State.RUNNING, State.WAITING)


class Trigger(models.TextChoices):
    MANUAL = "manual", _("Manual")
    PUSH = "push", _("Push")
    TAG = "tag", _("Tag")
    MERGE_REQUEST = "merge_request", _("Merge request")
    SCHEDULE = "schedule", _("Schedule")
    SUB_PIPELINE = "sub_pipeline", _("Sub-pipeline")


class Run(models.Model):
    """One execution of a pipeline, numbered 1, 2, 3 … per pipeline (gap-free)."""

    pipeline = models.ForeignKey("pipelines.Pipeline", on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField(_("number"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_detail = models.JSONField(
        _("trigger detail"),
        default=dict,
        blank=True,
        help_text=_("What started it: push sender, tag, MR number and event, slot …"),
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    branch = models.CharField(_("branch"), max_length=255, blank=True)
    tag = models.CharField(_("tag"), max_length=255, blank=True)
    commit_id = models.CharField(_("commit"), max_length=64, blank=True)
    commit_message = models.CharField(_("commit message"), max_length=500, blank=True)
    selected_tasks = models.JSONField(_("selected tasks"), default=list, help_text=_('["<stage>/<task>", …]'))
    parameters = models.JSONField(_("parameters"), default=dict, help_text=_("Resolved non-secret values."))
    snapshot = models.JSONField(_("definition snapshot"), default=dict)
    sources = models.JSONField(
        _("resolved sources"),
        default=dict,
        help_text=_("Per alias: repository, branch, tag, commit or artifact version."),
    )
    parent_task = models.ForeignKey(
        "runs.TaskRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="child_runs",
        help_text=_("The sub-pipeline task that started it."),
    )
    error = models.TextField(_("error"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        constraints = [models.UniqueConstraint(fields=["pipeline", "number"], name="run_unique_number")]
        indexes = [
            models.Index(fields=["pipeline", "state", "created"]),
            # X3's FIFO: the next queued run by number, without walking the pipeline's finished runs.
            models.Index(fields=["pipeline", "state", "number"], name="run_queue_order"),
        ]

    def __str__(self):
        return f"{self.pipeline} #{self.number}"

    @classmethod
    def restrict_q(cls, user, action):
        """A run is seen by whoever sees its pipeline; acting on it (stop, retry) needs execute."""
        from pipelines.models import Pipeline

        if action == VIEW:
            return Q(pipeline__project_id__in=member_project_ids(user))
        return Q(pipeline__in=Pipeline.objects.restrict(user, action)) if action else nothing()

    @property
    def duration(self):
        if self.started and self.finished:
            return self.finished - self.started
        return None


class RunSecret(models.Model):
    """A runtime value given for a secret parameter at start (encrypted; R4)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=64)
    value = SecretField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="run_secret_unique")]

    def __str__(self):
        return f"{self.run} · {self.name}"


class StageRun(models.Model):
    """A stage of a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="stages")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    manual = models.BooleanField(default=False)
    parallel = models.BooleanField(default=False)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    gate_result = models.JSONField(default=dict, blank=True, help_text=_("Per gate item: metric, value, passed."))
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="stage_run_unique_index")]

    def __str__(self):
        return f"{self.run} › {self.name}"


class TaskRun(models.Model):
    """A task of a run: the unit a worker executes."""

    stage = models.ForeignKey(StageRun, on_delete=models.CASCADE, related_name="tasks")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=20)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    selected = models.BooleanField(default=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text=_("Bumped by retry and rerun."))
    exit_code = models.IntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text=_("issue_count, pass_rate, …"))
    message = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    pid = models.IntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Worker process that may run the task's commands; empty once none runs any more (the log is complete)."
        ),
    )
    heartbeat = models.DateTimeField(null=True, blank=True)
    wait_until = models.DateTimeField(null=True, blank=True, help_text=_("Delay tasks and review time-outs."))
    approvals = models.JSONField(default=dict, blank=True, help_text=_("Reviewer → approved / rejected."))
    log_size = models.PositiveBigIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["stage", "index"]
        constraints = [models.UniqueConstraint(fields=["stage", "index"], name="task_run_unique_index")]
        indexes = [models.Index(fields=["state", "heartbeat"])]

    def __str__(self):
        return f"{self.stage} › {self.name}"

    @property
    def key(self) -> str:
        return f"{self.stage.name}/{self.name}"


class LogChunk(models.Model):
    """A piece of a task's log, already masked. ``offset`` is the byte offset of its first byte."""

    task = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="log_chunks")
    attempt = models.PositiveSmallIntegerField(default=0)
    offset = models.PositiveBigIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["task", "offset"]
        indexes = [models.Index(fields=["task", "offset"])]

    def __str__(self):
        return f"{self.task} @{self.offset}"


class BuildPackage(models.Model):
    """A file a build task uploaded to the project's release repository (K1)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="packages")
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="packages")
    task = models.ForeignKey(TaskRun, on_delete=models.SET_NULL, null=True, related_name="packages")
    name = models.CharField(_("package"), max_length=100)
    version = models.CharField(_("version"), max_length=100)
    filename = models.CharField(_("file name"), max_length=255)
    file = models.FileField(upload_to="packages/%Y/%m/")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = _("build package")
        verbose_name_plural = _("build packages")
        indexes = [models.Index(fields=["project", "name", "created"])]

    def __str__(self):
        return f"{self.name} {self.version} ({self.filename})"

    @classmethod
    def restrict_q(cls, user, action):
        return Q(project_id__in=member_project_ids(user)) if action == VIEW else nothing()
