"""``url_formatter`` gives exactly what ``reverse()`` gives (P1 list rows build their links with it)."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from devops_console.core.urlformat import url_formatter


@pytest.mark.parametrize(
    ("name", "args"),
    [("pipeline-list", (7,)), ("pipeline-detail", (7, 123)), ("run-detail", (1, 22, 333)), ("pipeline-follow", (9, 9))],
)
def test_same_as_reverse(name, args):
    assert url_formatter(name, len(args))(*args) == reverse(name, args=args)


def test_keeps_the_script_prefix():
    set_script_prefix("/console/")
    try:
        assert url_formatter("pipeline-detail", 2)(3, 4) == reverse("pipeline-detail", args=(3, 4))
        assert url_formatter("pipeline-detail", 2)(3, 4).startswith("/console/")
    finally:
        set_script_prefix("/")


def test_refuses_a_wrong_argument_count_and_non_integers():
    with pytest.raises(NoReverseMatch):
        url_formatter("pipeline-detail", 1)
    fmt = url_formatter("pipeline-detail", 2)
    with pytest.raises(ValueError):
        fmt("1/../admin", 2)
