"""Forms of the workflow editor: a stage, one form per task type (P6), a stage's gates and a gate template (P7).

The forms only collect input; ``pipelines.definition`` validates it (through ``services.update_pipeline``)
and ``apply_definition_errors`` puts its errors, keyed by paths like ``stages[0].tasks[2].config.commands``,
on the matching fields. Selects are plain ``CharField``s so that a stale or foreign id reaches the validator
(and its message) instead of Django's generic "Select a valid choice".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from devops_console.core.formstyle import StyledFormMixin
from devops_console.core.parsing import parse_uint

_PATH_PART = re.compile(r"^\.?([A-Za-z_]+)(?:\[(\d+)\])?")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


@dataclass
class Choices:
    """What the pickers offer, computed by the view for the user and project."""

    sources: list[str] = field(default_factory=list)  # source aliases
    members: list[str] = field(default_factory=list)  # usernames
    host_groups: list[str] = field(default_factory=list)  # names, and ${param} of host-group parameters
    endpoints: list[tuple[int, str]] = field(default_factory=list)  # usable Kubernetes endpoints
    pipelines: list[tuple[int, str]] = field(default_factory=list)  # other pipelines of the project


def text(label, *, help_text="", rows=None, mono=False, placeholder="", number=False):
    if rows:
        widget = forms.Textarea(attrs={"rows": rows})
    elif number:
        widget = forms.NumberInput()
    else:
        widget = forms.TextInput()
    if mono:
        widget.attrs["class"] = "font-monospace"
    if placeholder:
        widget.attrs["placeholder"] = placeholder
    return forms.CharField(label=label, required=False, strip=False, help_text=help_text, widget=widget)


def select(label, choices, *, help_text="", radio=False):
    widget = forms.RadioSelect(choices=choices) if radio else forms.Select(choices=choices)
    return forms.CharField(label=label, required=False, help_text=help_text, widget=widget)


def lines(value: str) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines."""
    return [(n, line.strip()) for n, line in enumerate((value or "").splitlines(), start=1) if line.strip()]


class WorkflowForm(StyledFormMixin, forms.Form):
    #: fields whose label gets a red star (the validator decides; this is only the hint)
    starred: tuple[str, ...] = ()
    #: fields rendered as segmented buttons
    segmented: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_numbers: dict[str, list[int]] = {}
        for name in self.starred:
            self.fields[name].starred = True
        for name in self.segmented:
            self.fields[name].widget.attrs["class"] = "btn-check"
            self.fields[name].segmented = True

    def put_error(self, name: str | None, messages, index: int | None = None) -> None:
        """An error on field ``name`` (None: the form); ``index`` names the line of a one-per-line field."""
        if index is not None and name is not None:
            numbers = self.line_numbers.get(name, [])
            line = numbers[index] if index < len(numbers) else index + 1
            messages = [_("Line %(n)s: %(message)s") % {"n": line, "message": m} for m in messages]
        self.add_error(name if name in self.fields else None, list(messages))


# --------------------------------------------------------------------------- stages


class StageForm(WorkflowForm):
    name = text(_l("Stage name"), placeholder=_l("e.g. Build"))
    parallel = select(
        _l("Tasks run"),
        [("serial", _l("Serially")), ("parallel", _l("In parallel"))],
        radio=True,
        help_text=_l("Serial: one after another (build, then deploy). Parallel: all at once (checks and tests)."),
    )
    manual = select(
        _l("Stage starts"),
        [("auto", _l("Automatically")), ("manual", _l("Manually"))],
        radio=True,
        help_text=_l("A manual stage waits until a user confirms it."),
    )
    always_run = forms.BooleanField(
        label=_l("Always run"),
        required=False,
        help_text=_l("Its tasks are always selected when a run starts and cannot be deselected."),
    )
    starred = ("name",)
    segmented = ("parallel", "manual")
    FIELDS = ("name", "always_run", "manual", "parallel")

    @staticmethod
    def initial_from(stage: dict) -> dict:
        return {
            "name": stage.get("name") or "",
            "always_run": bool(stage.get("always_run")),
            "manual": "manual" if stage.get("manual") else "auto",
            "parallel": "parallel" if stage.get("parallel") else "serial",
        }

    def to_stage(self) -> dict:
        data = self.cleaned_data
        return {
            "name": (data["name"] or "").strip(),
            "always_run": bool(data["always_run"]),
            "manual": data["manual"] == "manual",
            "parallel": data["parallel"] == "parallel",
        }

    def apply_definition_errors(self, errors: dict, prefix: str, describe) -> None:
        for path, messages in errors.items():
            rest = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else None
            if rest in self.FIELDS:
                self.put_error(rest, messages)
            else:
                self.put_error(None, [describe(path, m) for m in messages])


# --------------------------------------------------------------------------- tasks (P6)


class TaskForm(WorkflowForm):
    """Name, the type's config fields and the task's own runtime parameters (R9)."""

    type_key = ""
    type_label = ""
    icon = "bi-box"
    description = ""
    #: the form fields of config keys
    config_fields: tuple[str, ...] = ()
    #: form field -> config key, where they differ
    config_keys: dict[str, str] = {}
    #: groups of config fields shown only for one value of a switch field: (css class, fields)
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: fields holding one item per line
    line_fields: tuple[str, ...] = ()

    name = text(_l("Task name"))
    task_parameters = text(
        _l("Task parameters"),
        rows=2,
        mono=True,
        placeholder="TARGET=staging",
        help_text=_l(
            "Set when a run starts. One per line: NAME=default, or NAME=a|b|c for a choice (the first is "
            "the default). Use them as ${NAME}."
        ),
    )

    def __init__(self, *args, choices: Choices | None = None, **kwargs):
        self.choices = choices or Choices()
        super().__init__(*args, **kwargs)
        self.fields["name"].starred = True
        for name, options in PICKERS.items():
            if name in self.fields:
                choices = options(self.choices)
                current = str(self.initial.get(name) or "")
                if current and current not in {value for value, _label in choices}:  # keep a stale value visible
                    choices.append((current, _("%(value)s (not available)") % {"value": current}))
                self.fields[name].widget.choices = choices

    # ---- layout for the template
    def layout(self) -> list[dict]:
        grouped = {name for _css, names in self.groups for name in names}
        plain = [self[name] for name in self.config_fields if name not in grouped]
        out = [{"css": "", "fields": [self["name"], *plain]}]
        out += [{"css": css, "fields": [self[name] for name in names]} for css, names in self.groups]
        return out

    # ---- task <-> form
    @classmethod
    def initial_from(cls, task: dict) -> dict:
        config = task.get("config") or {}
        initial = {"name": task.get("name") or "", "task_parameters": _params_text(task.get("parameters") or [])}
        for form_name in cls.config_fields:
            value = config.get(cls.config_keys.get(form_name, form_name))
            initial[form_name] = cls.show(form_name, value)
        return initial

    @classmethod
    def show(cls, name: str, value):
        if value is None:
            return ""
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        if isinstance(value, bool):
            return value
        return str(value)

    def read(self, name: str):
        value = self.cleaned_data.get(name)
        if name in self.line_fields:
            parsed = lines(value)
            self.line_numbers[name] = [n for n, _line in parsed]
            return [line for _n, line in parsed]
        return value.strip() if isinstance(value, str) else value

    def to_task(self, existing: dict | None = None) -> dict:
        config = {self.config_keys.get(name, name): self.read(name) for name in self.config_fields}
        return {
            "name": (self.cleaned_data.get("name") or "").strip(),
            "type": self.type_key,
            "config": config,
            "parameters": self._parameters((existing or {}).get("parameters") or []),
        }

    def _parameters(self, existing: list) -> list[dict]:
        previous = {p.get("name"): p for p in existing if isinstance(p, dict)}
        parsed = lines(self.cleaned_data.get("task_parameters"))
        self.line_numbers["task_parameters"] = [n for n, _line in parsed]
        out = []
        for _n, line in parsed:
            name, _sep, value = line.partition("=")
            name = name.strip()
            param = {**previous.get(name, {}), "name": name, "runtime": True}
            if "|" in value:
                options = [v.strip() for v in value.split("|") if v.strip()]
                param.update(type="enum", choices=options, default=options[0] if options else "")
            else:
                param.update(type="string", choices=[], default=value.strip())
            param.pop("value_set", None)
            out.append(param)
        return out

    # ---- validator errors -> fields
    def apply_definition_errors(self, errors: dict, prefix: str, describe) -> None:
        config_names = {self.config_keys.get(name, name): name for name in self.config_fields}
        for path, messages in errors.items():
            rest = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else None
            if rest is None:
                self.put_error(None, [describe(path, m) for m in messages] if path != prefix else messages)
                continue
            head = _PATH_PART.match(rest)
            key, index = (head.group(1), head.group(2)) if head else (rest, None)
            if key == "name":
                self.put_error("name", messages)
            elif key == "parameters":
                self.put_error("task_parameters", messages, int(index) if index is not None else None)
            elif key == "config" and rest.startswith("config."):
                sub = _PATH_PART.match(rest[len("config.") :])
                if sub and sub.group(1) in config_names:
                    name = config_names[sub.group(1)]
                    line = int(sub.group(2)) if sub.group(2) is not None and name in self.line_fields else None
                    self.put_error(name, messages, line)
                else:
                    self.put_error(None, messages)
            else:
                self.put_error(None, messages)


def _params_text(params: list) -> str:
    out = []
    for p in params:
        if not isinstance(p, dict):
            continue
        if p.get("type") == "enum":
            choices = list(p.get("choices") or [])
            default = p.get("default") or (choices[0] if choices else "")
            ordered = [default, *(c for c in choices if c != default)] if default else choices
            out.append(f"{p.get('name')}={'|'.join(ordered)}")
        else:
            out.append(f"{p.get('name')}={p.get('default') or ''}")
    return "\n".join(out)


def _pick(empty, pairs):
    return [("", empty), *((str(value), label) for value, label in pairs)]


#: select fields whose options come from ``Choices``
PICKERS = {
    "source": lambda c: _pick(_("— none —"), ((a, a) for a in c.sources)),
    "host_group": lambda c: _pick(_("— choose —"), ((h, h) for h in c.host_groups)),
    "endpoint": lambda c: _pick(_("— choose —"), c.endpoints),
    "pipeline": lambda c: _pick(_("— choose —"), c.pipelines),
}


TIMEOUT = {"help_text": _l("Default 60."), "number": True}


class BuildForm(TaskForm):
    type_key, type_label, icon = "build", _l("Build"), "bi-hammer"
    description = _l("Run build commands on a source and upload the artifacts as a versioned package.")
    config_fields = ("source", "commands", "artifacts", "package", "version", "timeout_minutes")
    line_fields = ("artifacts",)
    starred = ("commands",)
    source = select(_l("Source"), [])
    commands = text(_l("Commands"), rows=6, mono=True, placeholder="make build")
    artifacts = text(
        _l("Artifacts"),
        rows=2,
        mono=True,
        placeholder="dist/*.tar.gz",
        help_text=_l("Files to upload, one path or glob per line."),
    )
    package = text(_l("Package name"), help_text=_l("Needed when there are artifacts."))
    version = text(_l("Version"), mono=True, placeholder="${PIPELINE_NUMBER}")
    timeout_minutes = text(_l("Timeout (minutes)"), **TIMEOUT)


class CodeCheckForm(TaskForm):
    type_key, type_label, icon = "code_check", _l("Code check"), "bi-search"
    description = _l("Lint the code with ruff, flake8 or your own command; the issue count feeds quality gates.")
    config_fields = ("preset", "source", "command", "sarif_path", "timeout_minutes")
    groups = (("wf-when-custom", ("command", "sarif_path")),)
    starred = ("preset",)
    segmented = ("preset",)
    preset = select(
        _l("Checker"), [("ruff", "ruff"), ("flake8", "flake8"), ("custom", _l("Custom command"))], radio=True
    )
    source = select(_l("Source"), [])
    command = text(_l("Command"), rows=3, mono=True)
    sarif_path = text(_l("SARIF report path"), mono=True, placeholder="reports/check.sarif")
    timeout_minutes = text(_l("Timeout (minutes)"), **TIMEOUT)


class ApiTestForm(TaskForm):
    type_key, type_label, icon = "api_test", _l("API test"), "bi-plug"
    description = _l("Run a JUnit-producing test command or HTTP checks; the pass rate feeds quality gates.")
    config_fields = ("mode", "command", "junit_path", "source", "checks", "timeout_minutes")
    groups = (("wf-when-junit", ("command", "junit_path", "source")), ("wf-when-http", ("checks",)))
    line_fields = ("checks",)
    starred = ("mode",)
    segmented = ("mode",)
    mode = select(_l("Mode"), [("http", _l("HTTP checks")), ("junit", _l("JUnit command"))], radio=True)
    command = text(_l("Command"), rows=3, mono=True, placeholder="pytest --junitxml=reports/api.xml")
    junit_path = text(_l("JUnit report path"), mono=True, placeholder="reports/*.xml")
    source = select(_l("Source"), [])
    checks = text(
        _l("HTTP checks"),
        rows=4,
        mono=True,
        placeholder="GET https://staging.example/health 200 ok",
        help_text=_l("One per line: METHOD URL [expected status] [text the body must contain]."),
    )
    timeout_minutes = text(_l("Timeout (minutes)"), **TIMEOUT)

    @classmethod
    def show(cls, name, value):
        if name == "checks" and isinstance(value, list):
            rows = []
            for check in value:
                if isinstance(check, dict):
                    method, status = check.get("method") or "GET", check.get("expected_status") or 200
                    row = f"{method} {check.get('url') or ''} {status}"
                    rows.append(f"{row} {check['body_contains']}" if check.get("body_contains") else row)
            return "\n".join(rows)
        return super().show(name, value)

    def read(self, name):
        value = super().read(name)
        if name != "checks":
            return value
        checks = []
        for row in value:
            parts = row.split(None, 1)
            method = "GET"
            if parts and parts[0].upper() in HTTP_METHODS:
                method, row = parts[0].upper(), parts[1] if len(parts) > 1 else ""
            url, _sep, rest = row.partition(" ")
            status, _sep, body = rest.strip().partition(" ")
            if not re.fullmatch(r"\d{3}", status):
                status, body = "", rest.strip()
            checks.append({"method": method, "url": url, "expected_status": status or None, "body_contains": body})
        return checks


class DeployForm(TaskForm):
    type_key, type_label, icon = "deploy", _l("Deploy"), "bi-cloud-upload"
    description = _l("Run commands on a host group, or apply Kubernetes manifests through a service endpoint.")
    host_fields = ("host_group", "commands", "package")
    kubernetes_fields = ("endpoint", "namespace", "manifests", "rollout_timeout_seconds")
    config_fields = ("target", *host_fields, *kubernetes_fields)
    groups = (("wf-when-host_group", host_fields), ("wf-when-kubernetes", kubernetes_fields))
    starred = ("target",)
    segmented = ("target",)
    target = select(
        _l("Deploy target"), [("host_group", _l("Host group")), ("kubernetes", _l("Kubernetes"))], radio=True
    )
    host_group = select(_l("Host group"), [])
    commands = text(_l("Commands"), rows=5, mono=True, placeholder="./deploy.sh ${PIPELINE_NUMBER}")
    package = text(_l("Package name"), help_text=_l("A build package to copy to the hosts first (optional)."))
    endpoint = select(_l("Kubernetes endpoint"), [])
    namespace = text(_l("Namespace"), mono=True, placeholder="default")
    manifests = text(_l("Manifests"), rows=8, mono=True, placeholder="apiVersion: apps/v1\nkind: Deployment\n…")
    rollout_timeout_seconds = text(_l("Rollout timeout (seconds)"), number=True, help_text=_l("Default 300."))


class SubPipelineForm(TaskForm):
    type_key, type_label, icon = "sub_pipeline", _l("Sub-pipeline"), "bi-diagram-2"
    description = _l("Run another pipeline of this project and take its result.")
    config_fields = ("pipeline", "values")
    config_keys = {"values": "parameters"}
    starred = ("pipeline",)
    pipeline = select(_l("Pipeline"), [])
    values = text(
        _l("Parameter values"),
        rows=3,
        mono=True,
        placeholder="TARGET=staging",
        help_text=_l("Values passed to the called pipeline, one per line: NAME=value."),
    )

    @classmethod
    def show(cls, name, value):
        if name == "values" and isinstance(value, dict):
            return "\n".join(f"{k}={v}" for k, v in value.items())
        return super().show(name, value)

    def read(self, name):
        value = super().read(name)
        if name != "values":
            return value
        return dict(line.partition("=")[::2] for _n, line in lines(value))


class DelayForm(TaskForm):
    type_key, type_label, icon = "delay", _l("Delay"), "bi-hourglass-split"
    description = _l("Pipeline control: wait a fixed time, then go on. Serial stages only.")
    config_fields = ("seconds",)
    starred = ("seconds",)
    seconds = text(_l("Delay (seconds)"), number=True, help_text=_l("1 to 86400."))


class ManualReviewForm(TaskForm):
    type_key, type_label, icon = "manual_review", _l("Manual review"), "bi-person-check"
    description = _l("Pipeline control: wait until the named reviewers approve. Serial stages only.")
    config_fields = ("reviewers", "mode", "timeout_minutes", "forbid_starter")
    starred = ("reviewers",)
    segmented = ("mode",)
    reviewers = forms.Field(label=_l("Reviewers"), required=False, widget=forms.CheckboxSelectMultiple)
    mode = select(_l("Approval"), [("any", _l("Any one reviewer")), ("all", _l("All reviewers"))], radio=True)
    timeout_minutes = text(_l("Timeout (minutes)"), number=True, help_text=_l("Empty: wait without limit."))
    forbid_starter = forms.BooleanField(label=_l("The user who started the run may not review"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = list(dict.fromkeys([*self.choices.members, *(self.initial.get("reviewers") or [])]))
        self.fields["reviewers"].widget.choices = [(n, n) for n in names]

    @classmethod
    def show(cls, name, value):
        return value or [] if name == "reviewers" else super().show(name, value)

    def read(self, name):
        value = self.cleaned_data.get(name)
        if name == "reviewers":
            return list(value or [])
        return super().read(name)


TASK_FORMS: dict[str, type[TaskForm]] = {
    form.type_key: form
    for form in (BuildForm, CodeCheckForm, ApiTestForm, DeployForm, SubPipelineForm, DelayForm, ManualReviewForm)
}


# --------------------------------------------------------------------------- quality gates (P7)


class GateForm(WorkflowForm):
    templates = forms.MultipleChoiceField(
        label=_l("Gate templates"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _l("Gate template %(value)s is not available to this project.")},
    )

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["templates"].choices = [(str(t.pk), t.name) for t in templates]
        self.template_objects = {str(t.pk): t for t in templates}

    def template_ids(self) -> list[int]:
        values = self.cleaned_data.get("templates") or []
        return [n for n in (parse_uint(v) for v in (values if isinstance(values, list) else [values])) if n is not None]

    def apply_definition_errors(self, errors: dict, prefix: str, describe) -> None:
        for path, messages in errors.items():
            if path.startswith(prefix + ".gates"):
                self.put_error("templates", messages)
            else:
                self.put_error(None, [describe(path, m) for m in messages])


class GateTemplateForm(WorkflowForm):
    """“Create gate template” inline: a name and the items (code-check issues ≤ N, API pass rate ≥ N %)."""

    gt_name = text(_l("Template name"), placeholder=_l("e.g. Zero issues, 95 % pass"))
    issue_count_on = forms.BooleanField(label=_l("Code-check issue count ≤"), required=False)
    issue_count = text(_l("Maximum issues"), number=True, placeholder="0")
    pass_rate_on = forms.BooleanField(label=_l("API-test pass rate ≥"), required=False)
    pass_rate = text(_l("Minimum pass rate (%)"), number=True, placeholder="95")
    starred = ("gt_name",)

    def items(self) -> list[dict]:
        data, out = self.cleaned_data, []
        for metric in ("issue_count", "pass_rate"):
            if data.get(f"{metric}_on"):
                out.append({"metric": metric, "threshold": (data.get(metric) or "").strip()})
        return out

    def apply_service_errors(self, errors: dict, items: list[dict]) -> None:
        for key, messages in errors.items():
            match = re.fullmatch(r"items\[(\d+)\]\.threshold", key)
            if key == "name":
                self.put_error("gt_name", messages)
            elif match and int(match.group(1)) < len(items):
                self.put_error(items[int(match.group(1))]["metric"], messages)
            else:
                self.put_error(None, messages)
