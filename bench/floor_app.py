"""The floor for the engine benchmark: a bare Celery app whose one task starts the same subprocess a
one-task pipeline run starts. Run as its own worker (``celery -A bench.floor_app worker -Q floor``)."""

import os
import subprocess

from celery import Celery

app = Celery("floor", broker=os.environ["BENCH_BROKER_URL"], backend=os.environ["BENCH_BROKER_URL"])
app.conf.task_default_queue = "floor"


@app.task(name="floor.spawn")
def spawn(stamp_file: str) -> int:
    return subprocess.run(["bash", "-c", f"date +%s.%N > {stamp_file}"], check=False).returncode
