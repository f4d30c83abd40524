"""Build task (K1): check out the task's source into ``src`` (``checkout.prepare``), run the commands
there, then collect artifacts by glob and upload them as build packages (package name + version) to
the project's release repository (Django storage API)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files import File
from django.utils.translation import gettext as _

from pipelines.executors import checkout as checkouts
from pipelines.executors.base import Outcome
from pipelines.runs.models import BuildPackage, State


def run(ctx):
    config = ctx.config
    try:
        checkout = checkouts.prepare(ctx, config.get("source"))
    except checkouts.CheckoutFailed as exc:
        ctx.log.line(f"[checkout] {exc}")
        return Outcome(State.FAILED, message=str(exc))
    code = ctx.run_command(config["commands"], cwd=checkout, shell=True, timeout=config["timeout_minutes"] * 60)
    if code != 0:
        return Outcome(State.FAILED, exit_code=code, message=_("The commands exited with %(code)s.") % {"code": code})
    files = collect(checkout, config.get("artifacts") or [])
    if config.get("artifacts") and not files:
        return Outcome(State.FAILED, exit_code=0, message=_("No file matched the artifact patterns."))
    for path in files:
        upload(ctx, path, checkout)
    return Outcome(State.SUCCEEDED, exit_code=0, metrics={"packages": len(files)})


def collect(root: Path, patterns: list[str]) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and root in path.resolve().parents:
                found[path] = None
    return list(found)


def upload(ctx, path: Path, root: Path) -> BuildPackage:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    package = BuildPackage(
        project_id=ctx.run.pipeline.project_id,
        run=ctx.run,
        task=ctx.task,
        name=ctx.config["package"],
        version=ctx.config["version"],
        filename=str(path.relative_to(root)),
        size=path.stat().st_size,
        sha256=digest.hexdigest(),
    )
    with path.open("rb") as handle:
        package.file.save(f"{package.name}-{package.version}-{path.name}", File(handle), save=False)
    package.save()
    ctx.log.line(f"uploaded {package.filename} as {package.name} {package.version} ({package.size} bytes)")
    return package
