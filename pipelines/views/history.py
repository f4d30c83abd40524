"""History tab (configuration history, beyond): versions with author, time and summary; a diff of each
version against the one before; restore an earlier version as the newest (needs modify)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from pipelines import services
from pipelines.views.config import SettingsView


class HistoryView(SettingsView):
    template_name = "pipelines/settings/history.html"
    tab = "history"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        versions = self.pipeline.versions.select_related("author").order_by("-number")
        page = Paginator(versions, 50).get_page(self.request.GET.get("page"))
        context.update(page_obj=page, versions=page.object_list)
        return context


class VersionDiffView(SettingsView):
    template_name = "pipelines/settings/diff.html"
    tab = "history"
    http_method_names = ["get"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        version = self.pipeline.versions.select_related("author").filter(number=self.kwargs["number"]).first()
        if version is None:
            raise Http404
        diff = services.version_diff(self.pipeline, version.number)
        rows = []
        for line in diff.splitlines():
            css = ""
            if line.startswith(("+++", "---")):
                css = "diff-file"
            elif line.startswith("@@"):
                css = "diff-hunk"
            elif line.startswith("+"):
                css = "diff-add"
            elif line.startswith("-"):
                css = "diff-del"
            rows.append((css, line))
        context.update(version=version, diff_rows=rows, is_latest=version.number == self.pipeline.version)
        return context


class RestoreView(SettingsView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        number, before = self.kwargs["number"], self.pipeline.version
        try:
            self.pipeline = services.restore_version(request.user, self.pipeline, number)
        except ValidationError as exc:
            for path, errors in exc.message_dict.items():
                for error in errors:
                    messages.error(request, _("Could not restore: %(error)s") % {"error": f"{path}: {error}"})
            return redirect("pipeline-settings-history", project_id=self.project.pk, pipeline_id=self.pipeline.pk)
        if self.pipeline.version == before:
            messages.info(request, _("Version %(n)s is the same as the current configuration.") % {"n": number})
            return redirect("pipeline-settings-history", project_id=self.project.pk, pipeline_id=self.pipeline.pk)
        messages.success(
            request,
            _("Version %(old)s restored as version %(new)s.") % {"old": number, "new": self.pipeline.version},
        )
        return redirect("pipeline-settings-history", project_id=self.project.pk, pipeline_id=self.pipeline.pk)
