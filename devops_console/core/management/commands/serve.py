"""Run the whole console in the foreground: embedded Redis (when no REDIS_URL), two Celery workers
(orchestration and task commands), Celery beat and the web server. Ctrl-C (or SIGTERM) stops every child;
if one child dies, all stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from devops_console import embedded_redis

GRACE_SECONDS = 10
RUNNER_NICENESS = 19  # the lowest priority for the runner worker (see _start_all)


class Command(BaseCommand):
    help = "Run embedded Redis, Celery workers and beat and the web server; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000", help="Address of the web server.")
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes running task commands.")
        parser.add_argument(
            "--orchestration-concurrency",
            type=int,
            default=2,
            help="Worker processes for orchestration (two: one waiting on the database or a Git server does not "
            "hold up the other).",
        )

    def handle(self, *args, bind, web_workers, concurrency, orchestration_concurrency, **options):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._start_all(bind, web_workers, concurrency, orchestration_concurrency)
            self.stdout.write(self.style.SUCCESS(f"Console running on http://{bind}/ — Ctrl-C stops everything."))
            self._watch()
        finally:
            self._stop_all()

    def _start_all(self, bind, web_workers, concurrency, orchestration_concurrency):
        python = sys.executable
        if not settings.REDIS_URL:
            socket_path = settings.EMBEDDED_REDIS_SOCKET
            if embedded_redis.is_running(socket_path):
                self.stdout.write(f"Embedded Redis already running at {socket_path}; reusing it.")
            else:
                self.children.append(("redis", embedded_redis.start(settings.VAR_DIR, socket_path)))
                self.stdout.write(f"Embedded Redis started at {socket_path}.")
        celery = [python, "-m", "celery", "-A", "devops_console"]
        # Two workers, so long builds never starve orchestration (starting, advancing and promoting runs,
        # schedules, webhooks, the reaper): one on the ``celery`` queue, one running commands (``tasks``).
        self._spawn(
            "orchestrator",
            [*celery, "worker", "-l", "info", f"--concurrency={orchestration_concurrency}", "-Q", "celery",
             "-n", "orchestrator@%h"],
        )  # fmt: skip
        # The runner at a lower CPU priority (its commands inherit it): while builds load every core, starting
        # runs (a burst of schedules at 02:00), advancing them and serving pages still get the CPU first.
        self._spawn(
            "runner",
            [*celery, "worker", "-l", "info", f"--concurrency={concurrency}", "-Q", "tasks", "-n", "runner@%h"],
            niceness=RUNNER_NICENESS,
        )
        self._spawn(
            "beat", [*celery, "beat", "-l", "info", "--pidfile=", "-s", str(settings.VAR_DIR / "beat-schedule")]
        )
        self._spawn(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "devops_console.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
        )

    def _spawn(self, name, argv, niceness=0):
        lower = (lambda: os.nice(niceness)) if niceness else None
        self.children.append((name, subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=lower)))
        self.stdout.write(f"Started {name}.")

    def _on_signal(self, signum, frame):
        self.stopping = True

    def _watch(self):
        while not self.stopping:
            for name, process in self.children:
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping everything.")
                    self.stopping = True
                    break
            time.sleep(0.5)

    def _stop_all(self):
        # Stop the web server and the workers before the broker they talk to.
        for _name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for name, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {GRACE_SECONDS}s; killing it.")
                process.kill()
                process.wait()
        self.stdout.write("Stopped.")
