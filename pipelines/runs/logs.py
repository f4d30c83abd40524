"""Task logs: written in chunks to the database, masked before they are stored (R4, X2).

``LogWriter`` masks every form of every secret (``devops_console.core.logmask``), also when a value
arrives split across two writes: it never stores a tail that could be the beginning of a secret until
the next write (or close) shows it is not. Memory stays bounded by the chunk size whatever the log's
length.
"""

from __future__ import annotations

import time

from django.db import transaction

from devops_console.core.logmask import Masker
from pipelines.runs.models import LogChunk, TaskRun

CHUNK_BYTES = 64 * 1024
FLUSH_SECONDS = 0.5  # a line is visible within about this long (X2: within 1 s)


class LogWriter:
    """Append-only, masked, chunked log of one task attempt."""

    def __init__(self, task: TaskRun, secrets=(), *, clock=time.monotonic):
        self.task = task
        self.masker = Masker(secrets)
        self._pending = ""  # unmasked text not yet safe to store
        self._ready: list[str] = []  # masked text waiting for the next chunk write
        self._ready_len = 0
        self.offset = task.log_size
        self._clock = clock
        self._last_flush = clock()

    def write(self, text: str) -> None:
        """Append ``text``; an empty write only lets a waiting partial line through after FLUSH_SECONDS."""
        if not text and not self._pending and not self._ready:
            return
        self._pending += text
        cut = self._pending.rfind("\n") + 1 if "\n" in self._pending else 0
        if not cut and self._clock() - self._last_flush >= FLUSH_SECONDS:
            cut = len(self._pending) - self.masker.held_back(self._pending)
        if cut:
            self._ready_text(self.masker.mask(self._pending[:cut]))
            self._pending = self._pending[cut:]
        if self._ready_len >= CHUNK_BYTES or (self._ready and self._clock() - self._last_flush >= FLUSH_SECONDS):
            self.flush()

    def line(self, text: str) -> None:
        self.write(text + "\n")

    def _ready_text(self, masked: str) -> None:
        self._ready.append(masked)
        self._ready_len += len(masked.encode())

    def flush(self, final: bool = False) -> None:
        if final and self._pending:
            self._ready_text(self.masker.mask(self._pending))
            self._pending = ""
        if not self._ready:
            return
        text = "".join(self._ready)
        self._ready, self._ready_len = [], 0
        size = len(text.encode())
        with transaction.atomic():  # one commit for the chunk and the size readers poll
            LogChunk.objects.create(task=self.task, attempt=self.task.attempt, offset=self.offset, text=text)
            TaskRun.objects.filter(pk=self.task.pk).update(log_size=self.offset + size)
        self.offset += size
        self._last_flush = self._clock()

    def close(self) -> None:
        self.flush(final=True)


def read(task: TaskRun, offset: int = 0, limit: int = 1024 * 1024) -> tuple[str, int]:
    """Log text from byte ``offset`` (at most about ``limit`` bytes) and the offset to ask for next."""
    offset = max(0, int(offset))
    chunks = LogChunk.objects.filter(task=task, offset__gte=_chunk_start(task, offset)).order_by("offset")
    out, size, next_offset = [], 0, offset
    for chunk in chunks.iterator():
        data = chunk.text.encode()
        if chunk.offset + len(data) <= offset:
            continue
        piece = data[max(0, offset - chunk.offset):]
        out.append(piece)
        size += len(piece)
        next_offset = chunk.offset + len(data)
        if size >= limit:
            break
    return b"".join(out).decode(errors="replace"), next_offset


def _chunk_start(task: TaskRun, offset: int) -> int:
    start = LogChunk.objects.filter(task=task, offset__lte=offset).order_by("-offset").values_list("offset", flat=True)
    return start.first() or 0


def iter_all(task: TaskRun):
    """The whole log, chunk by chunk (constant memory), for downloads."""
    yield from LogChunk.objects.filter(task=task).order_by("offset").values_list("text", flat=True).iterator()
