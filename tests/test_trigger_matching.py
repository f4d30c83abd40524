"""T4 matching, table-driven: every sentence of the rule for branches, tags, merge request target branches
and paths, the glob semantics (``*`` vs ``**``, ``?``, trailing ``/``, exact names) and no cap on files.
Pure: no database."""

from __future__ import annotations

import time

import pytest

from pipelines.triggers.matching import EXCLUDED, INCLUDED, NOT_INCLUDED, Event, decide, matches


def flt(include=(), exclude=()):
    return {"include": list(include), "exclude": list(exclude)}


def push_rules(branches=None, paths=None, enabled=True):
    return {"push": {"enabled": enabled, "branches": branches or flt(), "paths": paths or flt()}}


def tag_rules(tags=None, enabled=True):
    return {"tag": {"enabled": enabled, "tags": tags or flt()}}


def mr_rules(branches=None, paths=None, events=("created", "updated", "merged", "reopened"), enabled=True):
    rules = {"enabled": enabled, "events": list(events), "branches": branches or flt(), "paths": paths or flt()}
    return {"merge_request": rules}


# ------------------------------------------------------------------------------------------ glob syntax

GLOBS = [
    # pattern, value, matches — T4 "patterns"
    ("main", "main", True),  # exact name
    ("main", "main2", False),
    ("main", "xmain", False),
    ("release/*", "release/1.0", True),  # * within one segment
    ("release/*", "release/1.0/hotfix", False),  # * never crosses "/"
    ("release/*", "release/", True),
    ("release/**", "release/1.0/hotfix", True),  # ** across segments
    ("*.md", "README.md", True),
    ("*.md", "docs/guide.md", False),  # * stays in the first segment
    ("**/*.md", "docs/guide.md", True),
    ("**/*.md", "README.md", True),  # **/ may be zero segments
    ("src/**/test_*.py", "src/test_a.py", True),
    ("src/**/test_*.py", "src/a/b/test_a.py", True),
    ("src/**/test_*.py", "src/a/b/a_test.py", False),
    ("v?", "v1", True),  # ? one character
    ("v?", "v10", False),
    ("v?", "v", False),
    ("a?c", "a/c", False),  # ? is not "/"
    ("docs/", "docs/index.md", True),  # trailing "/" covers everything below it
    ("docs/", "docs/a/b/c.png", True),
    ("docs/", "docs", False),
    ("docs/", "docsite/index.md", False),
    ("/docs/", "docs/index.md", True),  # a leading "/" is the repository root
    ("src/*/docs/", "src/app/docs/x.md", True),
    ("feature-[1]", "feature-[1]", True),  # other characters are literal
    ("feature-[1]", "feature-1", False),
    ("a.b", "axb", False),
    ("*", "anything", True),
    ("*", "a/b", False),
    ("**", "a/b/c", True),
]


@pytest.mark.parametrize("pattern,value,expected", GLOBS)
def test_glob_semantics(pattern, value, expected):
    """T4 patterns: exact names or globs; * within one segment, ** across, ? one character, trailing /."""
    assert matches([pattern], value) is expected


# ------------------------------------------------------------------------------- branch and tag rules

NAMES = [
    # include, exclude, name, triggered, rule — "match iff in include and not in exclude; exclude wins;
    # no include list means every branch"
    ((), (), "anything/at/all", True, "push.branches"),
    (("main", "release/*"), (), "main", True, "push.branches.include"),
    (("main", "release/*"), (), "release/2.0", True, "push.branches.include"),
    (("main", "release/*"), (), "feature/x", False, "push.branches.include"),
    (("main", "release/*"), ("release/*",), "release/2.0", False, "push.branches.exclude"),  # exclude wins
    (("release/**",), ("release/old/**",), "release/old/1", False, "push.branches.exclude"),
    ((), ("wip/*",), "wip/a", False, "push.branches.exclude"),
    ((), ("wip/*",), "main", True, "push.branches.exclude"),  # no include: every branch not excluded
]


@pytest.mark.parametrize("include,exclude,branch,triggered,rule", NAMES)
def test_push_branches(include, exclude, branch, triggered, rule):
    """T1, T4 branch rule (no paths configured: branches alone decide)."""
    decision = decide(push_rules(branches=flt(include, exclude)), Event("push", branch=branch, files=("a.py",)))
    assert (decision.triggered, decision.rule) == (triggered, rule), decision.reason
    assert branch in decision.reason or "every branch" in decision.reason


TAGS = [
    ((), (), "v1.0", True, "tag.tags"),
    (("v*",), (), "v1.0", True, "tag.tags.include"),
    (("v*",), (), "nightly", False, "tag.tags.include"),
    (("v*",), ("v*-rc*",), "v1.0-rc1", False, "tag.tags.exclude"),  # exclude wins
    (("v?.?",), (), "v1.10", False, "tag.tags.include"),
    ((), ("tmp-*",), "tmp-1", False, "tag.tags.exclude"),
]


@pytest.mark.parametrize("include,exclude,tag,triggered,rule", TAGS)
def test_tags(include, exclude, tag, triggered, rule):
    """T2, T4 tag rule: in include and not in exclude; exclude wins."""
    decision = decide(tag_rules(flt(include, exclude)), Event("tag", tag=tag))
    assert (decision.triggered, decision.rule) == (triggered, rule), decision.reason


MR = [
    # branches, events, action, target, triggered, rule — T3: the event must be chosen; the TARGET branch
    (flt(["main"]), ("created",), "created", "main", True, "merge_request.branches.include"),
    (flt(["main"]), ("created",), "updated", "main", False, "merge_request.events"),
    (flt(["main"]), ("created", "merged"), "merged", "develop", False, "merge_request.branches.include"),
    (
        flt(["main", "release/*"], ["release/old"]),
        ("reopened",),
        "reopened",
        "release/old",
        False,
        "merge_request.branches.exclude",
    ),  # fmt: skip
    (flt(), ("updated",), "updated", "anything", True, "merge_request.branches"),
    (flt(), ("created",), "closed", "main", False, "merge_request.events"),
]


@pytest.mark.parametrize("branches,events,action,target,triggered,rule", MR)
def test_merge_request_target_branch_and_events(branches, events, action, target, triggered, rule):
    """T3, T4: merge request events on/off; the target branch (not the source) is matched."""
    rules = mr_rules(branches=branches, events=events)
    event = Event("merge_request", branch="main", target_branch=target, action=action, files=("a",))
    decision = decide(rules, event)
    assert (decision.triggered, decision.rule) == (triggered, rule), decision.reason


# --------------------------------------------------------------------------------------------- paths

PATHS = [
    # include, exclude, files, triggered, rule, verdicts
    # no paths configured: branches alone
    ((), (), ["a.py"], True, "push.branches.include", None),
    # "if an exclude list is set and every changed file is excluded → no match"
    ((), ("docs/",), ["docs/a.md", "docs/b/c.md"], False, "push.paths.exclude", [EXCLUDED, EXCLUDED]),
    ((), ("docs/", "*.md"), ["docs/a.md", "README.md"], False, "push.paths.exclude", [EXCLUDED, EXCLUDED]),
    # "otherwise, with no include list → match"
    ((), ("docs/",), ["docs/a.md", "src/app.py"], True, "push.paths.exclude", [EXCLUDED, INCLUDED]),
    # "with an include list → match iff at least one changed file that is not excluded is included"
    (("src/",), (), ["src/app.py", "README.md"], True, "push.paths.include", [INCLUDED, NOT_INCLUDED]),
    (("src/",), (), ["README.md", "docs/a.md"], False, "push.paths.include", [NOT_INCLUDED, NOT_INCLUDED]),
    # include-with-excluded-files: the only included file is excluded → no match (exclude wins)
    (
        ("src/",),
        ("src/generated/",),
        ["src/generated/x.py", "README.md"],
        False,
        "push.paths.include",
        [EXCLUDED, NOT_INCLUDED],
    ),  # fmt: skip
    (
        ("src/",),
        ("src/generated/",),
        ["src/generated/x.py", "src/app.py"],
        True,
        "push.paths.include",
        [EXCLUDED, INCLUDED],
    ),  # fmt: skip
    # every file excluded although some are also included → still no match
    (("src/**",), ("**/*.md",), ["src/a.md"], False, "push.paths.exclude", [EXCLUDED]),
    # no changed file at all: with an exclude or include list nothing can match
    ((), ("docs/",), [], False, "push.paths.exclude", []),
    (("src/",), (), [], False, "push.paths.include", []),
    # a leading "/" in a changed path is ignored
    (("src/",), (), ["/src/app.py"], True, "push.paths.include", [INCLUDED]),
]


@pytest.mark.parametrize("include,exclude,files,triggered,rule,verdicts", PATHS)
def test_push_paths(include, exclude, files, triggered, rule, verdicts):
    """T1, T4 path rule, with the per-file verdicts (included / excluded / not included)."""
    rules = push_rules(branches=flt(["main"]), paths=flt(include, exclude))
    decision = decide(rules, Event("push", branch="main", files=tuple(files)))
    assert (decision.triggered, decision.rule) == (triggered, rule), decision.reason
    if verdicts is not None:
        assert [f["verdict"] for f in decision.files] == verdicts


def test_branches_first_then_paths():
    """T4: branches first — a branch that does not match decides, whatever the files."""
    rules = push_rules(branches=flt(["main"]), paths=flt(["src/"]))
    decision = decide(rules, Event("push", branch="dev", files=("src/app.py",)))
    assert not decision.triggered and decision.rule == "push.branches.include"
    assert decision.reason == "branch dev is not in the include list [main]"
    assert decision.files == []  # paths were never looked at


def test_merge_request_paths_with_excluded_files():
    """T3: the merge request's path rule is the same as the push's."""
    rules = mr_rules(branches=flt(["main"]), paths=flt(exclude=["docs/"]))
    event = Event("merge_request", target_branch="main", action="created", files=("docs/a.md",))
    decision = decide(rules, event)
    assert not decision.triggered and decision.rule == "merge_request.paths.exclude"
    assert "every changed file (1) is excluded by paths.exclude [docs/]" in decision.reason


def test_reasons_name_the_rule():
    rules = push_rules(branches=flt(["main", "release/*"]), paths=flt(exclude=["docs/"]))
    assert decide(rules, Event("push", branch="feature/x")).reason == (
        "branch feature/x is not in the include list [main, release/*]"
    )
    reason = decide(rules, Event("push", branch="main", files=("docs/a",))).reason
    assert "every changed file (1) is excluded by paths.exclude [docs/]" in reason


def test_unknown_files_match_on_branches_alone_and_say_why():
    """Files unknown (payload omitted them and the repository could not tell): branches alone, reason says so."""
    rules = push_rules(branches=flt(["main"]), paths=flt(exclude=["docs/"]))
    decision = decide(rules, Event("push", branch="main", files=None, files_unknown="the server is unreachable"))
    assert decision.triggered and decision.rule == "push.branches.include"
    assert "paths not checked: the server is unreachable" in decision.reason


def test_disabled_triggers_deleted_refs_and_other_events():
    assert decide(push_rules(enabled=False), Event("push", branch="main")).rule == "push.enabled"
    assert decide({}, Event("tag", tag="v1")).rule == "tag.enabled"
    assert decide(mr_rules(enabled=False), Event("merge_request", target_branch="main", action="created")).rule == (
        "merge_request.enabled"
    )
    deleted = decide(push_rules(), Event("push", branch="main", deleted=True))
    assert not deleted.triggered and deleted.rule == "push.deleted" and "deleted" in deleted.reason
    assert decide(tag_rules(), Event("tag", tag="v1", deleted=True)).rule == "tag.deleted"
    assert not decide(push_rules(), Event("ping")).triggered


def test_no_cap_on_changed_files():
    """T4 has no cap: 10,000 files, the single non-excluded one at the very end still triggers; fast."""
    files = tuple(f"docs/page{i}.md" for i in range(9_999)) + ("src/app.py",)
    rules = push_rules(paths=flt(include=["src/**"], exclude=["docs/", "**/*.tmp"]))
    started = time.monotonic()
    decision = decide(rules, Event("push", branch="main", files=files))
    assert time.monotonic() - started < 2
    assert decision.triggered and len(decision.files) == 10_000
    assert decision.files[-1] == {"path": "src/app.py", "verdict": INCLUDED}
    only_docs = decide(rules, Event("push", branch="main", files=files[:-1]))
    assert not only_docs.triggered and "every changed file (9999) is excluded" in only_docs.reason
