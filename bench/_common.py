"""Helpers shared by the benchmark scripts (imported as ``_common``: the scripts run as ``python bench/x.py``)."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_line() -> str:
    """``Machine: <cpu> × N, <memory>; <os>; Python …; <database> <version>; load average …`` (Django set up)."""
    from django.db import connection

    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor() or "?")  # fmt: skip
    mem = re.search(r"MemTotal:\s+(\d+)", _read("/proc/meminfo"))
    memory = f"{int(mem.group(1)) // 1024 // 1024} GiB" if mem else "?"
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if connection.vendor == "sqlite" else "show server_version")
        version = cursor.fetchone()[0]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Machine: {cpu} × {os.cpu_count()}, {memory}; {platform.platform()}; Python {platform.python_version()}; "
            f"{connection.vendor} {version}; load average at the end {load} (shared machine).")  # fmt: skip


def write_report(path: Path, bench: str, backend: str, body: str) -> None:
    """Replace the ``<!-- bench:<bench>:<backend> -->`` block of ``path`` with ``body`` (or append it)."""
    start, end = f"<!-- bench:{bench}:{backend} -->", f"<!-- /bench:{bench}:{backend} -->"
    block = f"{start}\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    path.write_text(text)
