"""The engine's inline hops (issue 5 throughput): after a run finishes, the next queued run is promoted in the
same process; when that fails, or chains too deep, a worker's ``runs.finished`` task does it (X3 never stalls)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError

from pipelines.runs import engine

pytestmark = pytest.mark.django_db


def test_after_finish_dispatches_inline():
    with mock.patch("pipelines.runs.start.dispatch") as dispatch, mock.patch(
        "pipelines.runs.tasks.run_finished.delay"
    ) as delay:
        engine.after_finish_soon(11, 7, has_parent=False)
    dispatch.assert_called_once_with(7)
    delay.assert_not_called()


def test_after_finish_falls_back_to_a_worker_when_inline_fails():
    with mock.patch("pipelines.runs.start.dispatch", side_effect=OperationalError("database is locked")), mock.patch(
        "pipelines.runs.tasks.run_finished.delay"
    ) as delay:
        engine.after_finish_soon(11, 7, has_parent=False)
    delay.assert_called_once_with(11)


def test_after_finish_hands_deep_chains_to_a_worker():
    """Runs that finish at once (preflight failures) promote the next ones; the chain stays shallow."""
    calls = []

    def dispatch(pipeline_id):
        calls.append(pipeline_id)
        engine.after_finish_soon(len(calls), pipeline_id, has_parent=False)  # the promoted run finished at once

    with mock.patch("pipelines.runs.start.dispatch", side_effect=dispatch), mock.patch(
        "pipelines.runs.tasks.run_finished.delay"
    ) as delay:
        engine.after_finish_soon(0, 7, has_parent=False)
    assert len(calls) == engine.MAX_INLINE_DEPTH
    delay.assert_called_once_with(engine.MAX_INLINE_DEPTH)


def test_after_finish_notifies_a_parent_task():
    with mock.patch("pipelines.runs.start.dispatch"), mock.patch("pipelines.runs.hooks.after_run") as after_run:
        engine.after_finish_soon(11, 7, has_parent=True)
    after_run.assert_called_once_with(11)
