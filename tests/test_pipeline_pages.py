"""Pipeline pages (P1 list, P2 create, P3 copy, P8 delete, the pipeline page, A6 on every page and POST).

Helpers and fixtures here are shared with ``test_pipeline_pages_*.py``.
"""

import pytest
from django.test import Client

from endpoints import services as endpoint_services
from pipelines import services
from pipelines.models import Pipeline, PipelineFollow, PipelinePersonPermission, PipelineRolePermission
from tests.matrix import check_matrix, expect

pytestmark = pytest.mark.django_db
SECRET = "planted-Secret-9731"


def sample_definition(name="web-app", **extra):
    return {
        "name": name,
        "description": "Builds the web app",
        "parameters": [
            {"name": "releaseversion", "type": "auto_increment", "default": "1.0.0", "runtime": True},
            {"name": "token", "type": "string", "default": SECRET, "secret": True},
            {"name": "unused", "type": "string", "default": "x"},
        ],
        "stages": [
            {
                "name": "Build",
                "tasks": [
                    {
                        "name": "compile",
                        "type": "build",
                        "config": {
                            "commands": "make TOKEN=${token}",
                            "artifacts": ["dist/*"],
                            "package": "web-app",
                            "version": "${releaseversion}",
                        },
                    }
                ],
            },
            {
                "name": "Check",
                "parallel": True,
                "tasks": [{"name": "lint", "type": "code_check", "config": {"preset": "ruff"}}],
            },
        ],
        **extra,
    }


def make_pipeline(world):
    """Created by the developer (a locked pipeline creator, A5)."""
    return services.create_pipeline(world.users["developer"], world.project, sample_definition())


def make_other_pipeline(world):
    return services.create_pipeline(world.users["other_creator"], world.other_project, sample_definition("theirs"))


@pytest.fixture
def pipeline(world):
    return make_pipeline(world)


@pytest.fixture
def other_pipeline(world):
    return make_other_pipeline(world)


def login(world, actor) -> Client:
    client = Client()
    client.force_login(world.users[actor])
    return client


def purl(pipeline, suffix=""):
    return f"/projects/{pipeline.project_id}/pipelines/{pipeline.pk}/{suffix}"


def snapshot(pipeline):
    """Everything an edit could change."""
    pipeline = Pipeline.objects.get(pk=pipeline.pk)
    return (
        pipeline.name,
        pipeline.version,
        pipeline.definition,
        sorted(
            PipelineRolePermission.objects.filter(pipeline=pipeline).values_list("role", "execute", "modify", "delete")
        ),
        sorted(PipelinePersonPermission.objects.filter(pipeline=pipeline).values_list("user_id", "execute", "modify")),
        Pipeline.objects.filter(project=pipeline.project).count(),
    )


def edit_posts(world):
    """(suffix, data) of every POST that changes a pipeline; each needs modify (or delete)."""
    return [
        ("settings/basic/", {"name": "renamed", "description": "x"}),
        ("settings/parameters/", {"action": "save", "original_name": "", "name": "extra", "type": "string"}),
        ("settings/parameters/", {"action": "delete", "name": "unused"}),
        (
            "settings/triggers/",
            {
                "push_enabled": "on",
                "missed_schedule_policy": "skip",
                "schedules-TOTAL_FORMS": "0",
                "schedules-INITIAL_FORMS": "0",
            },
        ),
        ("settings/notifications/", {"run_failed__email": "on"}),
        ("settings/permissions/", {"action": "save", "role-tester-modify": "on"}),
        ("settings/permissions/", {"action": "add_person", "user": world.users["tester"].pk}),
        ("settings/permissions/", {"action": "remove_person", "user": world.users["tester"].pk}),
        (
            "settings/permissions/toggle/",
            {"kind": "role", "key": "viewer", "flag": "execute", "role-viewer-execute": "on"},
        ),
        ("settings/history/1/restore/", {}),
        ("copy/", {}),
        ("delete/", {"confirm_name": "web-app"}),
    ]


def test_page_matrix(world, pipeline, other_pipeline):
    """A6: members view every page; outsiders and other projects' pipelines answer 404."""
    pid = world.project.pk
    check_matrix(world, "GET", "/pipelines/", expect(200, anonymous=302, outsider=200))
    check_matrix(world, "GET", "/pipelines/new/", expect(200, anonymous=302, outsider=200))
    check_matrix(
        world,
        "GET",
        f"/projects/{pid}/pipelines/",
        expect(200, anonymous=302),
        other_url=f"/projects/{world.other_project.pk}/pipelines/",
    )
    for suffix in (
        "",
        "settings/basic/",
        "settings/parameters/",
        "settings/triggers/",
        "settings/permissions/",
        "settings/notifications/",
        "settings/history/",
        "settings/history/1/",
    ):
        check_matrix(
            world, "GET", purl(pipeline, suffix), expect(200, anonymous=302), other_url=purl(other_pipeline, suffix)
        )
    check_matrix(
        world,
        "GET",
        purl(pipeline, "settings/"),
        expect(302, anonymous=302),
        other_url=purl(other_pipeline, "settings/"),
    )
    # P8: the delete page needs the delete right (creators and manager by default)
    check_matrix(
        world,
        "GET",
        purl(pipeline, "delete/"),
        expect(403, anonymous=302, creator=200, manager=200, developer=200),
        other_url=purl(other_pipeline, "delete/"),
    )
    # P2: creating needs developer or above
    for url in (f"/projects/{pid}/pipelines/new/", f"/projects/{pid}/pipelines/new/browse/?what=branches"):
        check_matrix(
            world,
            "GET",
            url,
            expect(403, anonymous=302, creator=200, manager=200, developer=200),
            other_url=url.replace(f"/{pid}/", f"/{world.other_project.pk}/"),
        )


def test_pipeline_of_another_project_under_my_project_is_404(world, pipeline, other_pipeline):
    client = login(world, "creator")
    url = f"/projects/{world.project.pk}/pipelines/{other_pipeline.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url + "settings/basic/", {"name": "x"}).status_code == 404


@pytest.mark.parametrize("index", range(12))
def test_post_matrix(world, pipeline, other_pipeline, index):
    """A6: every edit needs modify (delete: the delete right, P8); copy also needs create in the project.
    By default the creators and the manager have them; the pipeline creator here is the developer."""
    posts = edit_posts(world)
    assert len(posts) == 12
    suffix, data = posts[index]
    check_matrix(
        world,
        "POST",
        purl(pipeline, suffix),
        expect(403, anonymous=302, creator=302, manager=302, developer=302),
        data=data,
        other_url=purl(other_pipeline, suffix),
    )


@pytest.mark.parametrize("actor", ["participant", "viewer", "tester"])
def test_viewer_tries_every_edit_action(world, pipeline, actor):
    """A user who may view but not modify gets 403 on every edit action, and nothing changes."""
    client = login(world, actor)
    before = snapshot(pipeline)
    for suffix, data in edit_posts(world):
        response = client.post(purl(pipeline, suffix), data)
        assert response.status_code == 403, (suffix, response.status_code)
    assert snapshot(pipeline) == before


def test_follow_is_for_every_member(world, pipeline):
    check_matrix(world, "POST", purl(pipeline, "follow/"), expect(302, anonymous=302), data={"on": "1"})
    client = login(world, "viewer")
    client.post(purl(pipeline, "follow/"), {"on": "1"})
    assert PipelineFollow.objects.filter(pipeline=pipeline, user=world.users["viewer"]).exists()
    response = client.post(purl(pipeline, "follow/"), {"on": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'data-following="0"' in response.content
    assert not PipelineFollow.objects.filter(pipeline=pipeline).exists()


def test_follow_redirects_only_to_local_next(world, pipeline):
    client = login(world, "viewer")
    response = client.post(purl(pipeline, "follow/"), {"on": "1", "next": "https://evil.example/"})
    assert response["Location"] == purl(pipeline)
    response = client.post(purl(pipeline, "follow/"), {"on": "1", "next": "/pipelines/?filter=mine"})
    assert response["Location"] == "/pipelines/?filter=mine"


# --------------------------------------------------------------------------- P1 list


def test_list_columns_and_links(world, pipeline):
    """P1: project / pipeline names link to the project list and the pipeline page; stages as chips;
    "never run" until runs exist; actions by right."""
    response = login(world, "manager").get("/pipelines/")
    html = response.content.decode()
    assert f'href="/projects/{world.project.pk}/pipelines/"' in html
    assert f'href="{purl(pipeline)}"' in html
    assert "Build</span>" in html and "Check</span>" in html and "never run" in html
    assert 'data-action="delete"' in html and 'data-action="copy"' in html and 'data-action="edit"' in html
    viewer_html = login(world, "viewer").get("/pipelines/").content.decode()
    assert 'data-action="delete"' not in viewer_html and 'data-action="edit"' not in viewer_html
    assert 'data-action="copy"' not in viewer_html and "follow-" in viewer_html


def test_list_filters_and_search(world, pipeline):
    manager = world.users["manager"]
    mine = services.create_pipeline(manager, world.project, sample_definition("manager-api"))
    client = login(world, "manager")
    names = lambda r: [p.name for p in r.context["object_list"]]  # noqa: E731
    assert names(client.get("/pipelines/")) == ["manager-api", "web-app"]
    assert names(client.get("/pipelines/?filter=mine")) == [mine.name]
    assert names(client.get("/pipelines/?filter=last_run_by_me")) == []
    assert names(client.get("/pipelines/?search=WEB")) == ["web-app"]
    assert names(client.get("/pipelines/?filter=mine&search=web")) == []
    assert names(client.get("/pipelines/?filter=bogus")) == ["manager-api", "web-app"]
    project_list = client.get(f"/projects/{world.project.pk}/pipelines/?search=api")
    assert names(project_list) == ["manager-api"]
    assert b'data-testid="project-sidebar"' in project_list.content


def test_list_shows_only_my_projects(world, pipeline, other_pipeline):
    response = login(world, "developer").get("/pipelines/")
    assert [p.name for p in response.context["object_list"]] == ["web-app"]
    assert login(world, "outsider").get("/pipelines/").context["object_list"].count() == 0


def test_list_paginates_50_and_keeps_filters(world):
    for i in range(52):
        Pipeline.objects.create(project=world.project, name=f"p{i:02d}", creator=world.users["manager"], definition={})
    client = login(world, "manager")
    page1 = client.get("/pipelines/?filter=mine")
    assert len(page1.context["object_list"]) == 50
    assert b"filter=mine&amp;page=2" in page1.content
    assert len(client.get("/pipelines/?filter=mine&page=2").context["object_list"]) == 2


# --------------------------------------------------------------------------- pipeline page


def test_pipeline_page(world, pipeline):
    services.follow(world.users["tester"], pipeline)
    response = login(world, "tester").get(purl(pipeline))
    html = response.content.decode()
    assert "web-app" in html and "Builds the web app" in html and "developer" in html
    assert 'data-testid="workflow-stage"' in html and "compile" in html and "lint" in html
    assert "releaseversion" in html and 'data-following="1"' in html
    assert purl(pipeline, "settings/basic/") in html
    assert 'data-testid="delete"' not in html and 'data-testid="copy"' not in html
    assert SECRET not in html


# --------------------------------------------------------------------------- P3 copy, P8 delete


def test_copy_from_list_and_page(world, pipeline):
    """P3: a new pipeline, a message, a redirect to it; the copier is its creator."""
    client = login(world, "manager")
    response = client.post(purl(pipeline, "copy/"), {"next": "/pipelines/"}, follow=True)
    copy = Pipeline.objects.get(name="web-app - copy")
    assert response.redirect_chain[-1][0] == purl(copy)
    assert copy.creator == world.users["manager"] and copy.definition["stages"] == pipeline.definition["stages"]
    assert "Copied" in response.content.decode()
    client.post(purl(pipeline, "copy/"))
    assert Pipeline.objects.filter(name="web-app - copy (2)").exists()


def test_delete_needs_the_name_and_the_right(world, pipeline):
    """P8: by default only the project manager and the creators (project, pipeline) delete."""
    client = login(world, "manager")
    response = client.post(purl(pipeline, "delete/"), {"confirm_name": "web"})
    assert response.status_code == 200 and b'data-field-error="confirm_name"' in response.content
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()
    response = client.post(purl(pipeline, "delete/"), {"confirm_name": "web-app"})
    assert response.status_code == 302 and response["Location"] == f"/projects/{world.project.pk}/pipelines/"
    assert not Pipeline.objects.filter(pk=pipeline.pk).exists()


def test_delete_right_given_to_a_role(world, pipeline):
    from pipelines import permissions

    assert login(world, "tester").post(purl(pipeline, "delete/"), {"confirm_name": "web-app"}).status_code == 403
    permissions.set_permissions(pipeline, roles={"tester": {"delete": True}}, actor=pipeline.creator)
    assert login(world, "tester").post(purl(pipeline, "delete/"), {"confirm_name": "web-app"}).status_code == 302


# --------------------------------------------------------------------------- P2 create


def test_create_blank_pipeline(world):
    client = login(world, "developer")
    url = f"/projects/{world.project.pk}/pipelines/new/"
    step1 = {"name": "api", "description": "d", "source_kind": "none", "default_branch": "main"}
    response = client.post(url, {**step1, "action": "next"})
    assert response.status_code == 200 and response.context["step"] == 2
    assert not Pipeline.objects.filter(name="api").exists()
    response = client.post(url, {**step1, "action": "create", "template": "blank"})
    pipeline = Pipeline.objects.get(name="api")
    assert response.status_code == 302 and response["Location"] in (purl(pipeline), purl(pipeline, "workflow/"))
    assert pipeline.creator == world.users["developer"] and pipeline.definition["sources"] == []


def test_create_refuses_a_taken_name_on_step_1(world, pipeline):
    client = login(world, "developer")
    response = client.post(
        f"/projects/{world.project.pk}/pipelines/new/", {"name": "WEB-APP", "source_kind": "none", "action": "next"}
    )
    assert response.context["step"] == 1 and "already exists" in str(response.context["form"].errors["name"])


def test_create_with_a_git_source(world):
    endpoint = endpoint_services.create_endpoint(
        world.users["manager"],
        world.project,
        {
            "name": "repo",
            "type": "git",
            "url": "https://git.example/org/app.git",
            "username": "u",
            "password": "pw-123456",
            "scope": "public",
        },
    )
    client = login(world, "developer")
    url = f"/projects/{world.project.pk}/pipelines/new/"
    data = {
        "name": "from-git",
        "source_kind": "git",
        "endpoint": endpoint.pk,
        "repository": "org/app",
        "default_branch": "main",
        "alias": "",
    }
    assert client.post(url, {**data, "action": "next"}).context["step"] == 2
    client.post(url, {**data, "action": "create", "template": "blank"})
    pipeline = Pipeline.objects.get(name="from-git")
    assert pipeline.definition["sources"] == [
        {"kind": "git", "alias": "app", "endpoint": endpoint.pk, "repository": "org/app", "default_branch": "main"}
    ]


def test_create_git_source_errors_are_field_errors(world):
    private = endpoint_services.create_endpoint(
        world.users["manager"],
        world.project,
        {"name": "mine", "type": "git", "url": "https://git.example/x.git", "username": "u", "password": "pw-123456"},
    )
    client = login(world, "developer")
    url = f"/projects/{world.project.pk}/pipelines/new/"
    response = client.post(url, {"name": "x", "source_kind": "git", "action": "next"})
    assert {"endpoint", "repository", "default_branch"} <= set(response.context["form"].errors)
    response = client.post(
        url,
        {
            "name": "x",
            "source_kind": "git",
            "endpoint": private.pk,
            "repository": "a/b",
            "default_branch": "main",
            "action": "next",
        },
    )
    assert "endpoint" in response.context["form"].errors and response.context["step"] == 1
    public = endpoint_services.create_endpoint(
        world.users["developer"],
        world.project,
        {
            "name": "ours",
            "type": "git",
            "url": "https://git.example/y.git",
            "username": "u",
            "password": "pw-123456",
            "scope": "public",
        },
    )
    response = client.post(
        url,
        {
            "name": "x",
            "source_kind": "git",
            "endpoint": public.pk,
            "repository": "a/b",
            "default_branch": "bad..branch",
            "alias": "9x",
            "action": "next",
        },
    )
    errors = response.context["form"].errors
    assert {"default_branch", "alias"} <= set(errors) and response.context["step"] == 1
    assert b'data-field-error="default_branch"' in response.content


def test_load_branches_errors_never_500(world):
    """E10: an unreachable endpoint shows as a field error (htmx fragment and the no-JS form post)."""
    endpoint = endpoint_services.create_endpoint(
        world.users["manager"],
        world.project,
        {
            "name": "down",
            "type": "git",
            "url": "https://127.0.0.1:1/org/app.git",
            "username": "u",
            "password": "pw-123456",
            "scope": "public",
        },
    )
    client = login(world, "developer")
    base = f"/projects/{world.project.pk}/pipelines/new/"
    response = client.get(base + "browse/", {"what": "branches", "endpoint": endpoint.pk, "repository": "org/app"})
    assert response.status_code == 200 and b'data-field-error="default_branch"' in response.content
    response = client.get(base + "browse/", {"what": "branches", "endpoint": "nope", "repository": "org/app"})
    assert response.status_code == 200 and b"Choose a service endpoint" in response.content
    response = client.post(
        base,
        {"name": "x", "source_kind": "git", "endpoint": endpoint.pk, "repository": "org/app", "action": "branches"},
    )
    assert response.status_code == 200 and "default_branch" in response.context["form"].errors


def test_choose_project_lists_only_projects_where_i_may_create(world):
    response = login(world, "tester").get("/pipelines/new/")
    assert list(response.context["projects"]) == []
    response = login(world, "developer").get("/pipelines/new/", {"project": world.project.pk})
    assert response["Location"] == f"/projects/{world.project.pk}/pipelines/new/"
    assert login(world, "tester").get("/pipelines/new/", {"project": world.project.pk}).status_code == 403


def test_create_from_a_template(world):
    """P2 step 2: a template's stages and parameters (M3) with the step-1 source."""
    models = pytest.importorskip("templates_app.models")
    template = models.PipelineTemplate.objects.filter(key="python-ci").first()
    if template is None:
        pytest.skip("the python-ci system template is not shipped")
    endpoint = endpoint_services.create_endpoint(
        world.users["manager"],
        world.project,
        {
            "name": "repo",
            "type": "git",
            "url": "https://git.example/org/app.git",
            "username": "u",
            "password": "pw-123456",
            "scope": "public",
        },
    )
    client = login(world, "developer")
    url = f"/projects/{world.project.pk}/pipelines/new/"
    data = {
        "name": "py",
        "source_kind": "git",
        "endpoint": endpoint.pk,
        "repository": "org/py",
        "default_branch": "main",
        "alias": "code",
    }
    step2 = client.post(url, {**data, "action": "next"})
    assert template in step2.context["templates"]
    response = client.post(url, {**data, "action": "create", "template": template.pk})
    pipeline = Pipeline.objects.get(name="py")
    assert response.status_code == 302
    assert [s["name"] for s in pipeline.definition["stages"]] == [s["name"] for s in template.definition["stages"]]
    assert pipeline.definition["stages"][0]["tasks"][0]["config"]["source"] == "code"


def test_seed_demo_creates_demo_pipelines_once():
    from django.core.management import call_command

    call_command("seed_demo")
    call_command("seed_demo")
    demo = Pipeline.objects.filter(project__name="Demo project")
    assert sorted(demo.values_list("name", flat=True)) == ["nightly-report", "release", "web-app"]
    assert demo.get(name="web-app").creator.username == "demo-developer"


@pytest.mark.slow
def test_load_branches_from_a_real_git_server(world, git_server):
    """E10: the branch picker lists the repository's branches through the endpoint (htmx and no-JS)."""
    endpoint = endpoint_services.create_endpoint(
        world.users["manager"],
        world.project,
        {
            "name": "real",
            "type": "git",
            "url": git_server.repo_url("org/app.git"),
            "username": git_server.username,
            "password": git_server.password,
            "ca_bundle": git_server.ca_pem,
            "scope": "public",
        },
    )
    client = login(world, "developer")
    base = f"/projects/{world.project.pk}/pipelines/new/"
    response = client.get(base + "browse/", {"what": "branches", "endpoint": endpoint.pk, "repository": "org/app"})
    html = response.content.decode()
    assert '<option value="main">' in html and '<option value="release/1.0">' in html and "2 branches" in html
    response = client.post(
        base,
        {"name": "x", "source_kind": "git", "endpoint": endpoint.pk, "repository": "org/app", "action": "branches"},
    )
    assert response.context["branches"] == ["main", "release/1.0"] and not response.context["form"].errors
