"""Services › Templates pages (SPEC §9, M1–M3, R8): the permission matrix over every page, the list with
system / custom tabs and the followed filter, the workflow view, custom templates as YAML with path errors,
copy / delete / follow, and "Generate pipeline" in two steps redirecting to the new pipeline's page."""

import pytest
from django.test import Client

from pipelines import services as pipeline_services
from pipelines.models import Pipeline
from templates_app.models import PipelineTemplate, TemplateFollow
from tests.matrix import check_matrix, expect
from tests.test_templates_support import (  # noqa: F401 (fixtures)
    custom,
    git_endpoint_fixture,
    host_group_fixture,
    k8s_endpoint_fixture,
    other_custom,
    system,
    system_templates_loaded,
)

pytestmark = pytest.mark.django_db
ADDERS = {"creator": 200, "manager": 200, "developer": 200}
VALID_YAML = """parameters:
  - {name: releaseversion, type: auto_increment, runtime: true}
stages:
  - name: Build
    tasks:
      - name: compile
        type: build
        config: {source: app, commands: make, artifacts: [dist/*], package: web, version: "${releaseversion}"}
"""


def browser(world, actor="developer"):
    client = Client()
    client.force_login(world.users[actor])
    return client


def url(template, page=""):
    return f"/templates/{template.pk}/{page}"


# --------------------------------------------------------------------------- matrix


def test_matrix_list_and_create_pages(world):
    everyone = expect(200, anonymous=302, outsider=200)
    check_matrix(world, "GET", "/templates/", everyone)
    check_matrix(world, "GET", "/templates/?tab=custom&followed=1&q=x", everyone)
    check_matrix(world, "GET", "/templates/new/", everyone)
    post = {"name": "Mine", "definition": VALID_YAML}
    check_matrix(world, "POST", "/templates/new/", expect(302, anonymous=302, outsider=302), data=post)


def test_matrix_system_template_pages(world):
    template = system("docker-image")
    everyone = expect(200, anonymous=302, outsider=200)
    check_matrix(world, "GET", url(template), everyone)
    check_matrix(world, "GET", url(template, "generate/"), everyone)
    check_matrix(world, "GET", url(template, "edit/"), expect(403, anonymous=302, outsider=403))
    check_matrix(
        world,
        "POST",
        url(template, "edit/"),
        expect(403, anonymous=302, outsider=403),
        data={"name": "x", "definition": VALID_YAML},
    )
    check_matrix(world, "POST", url(template, "delete/"), expect(403, anonymous=302, outsider=403))
    check_matrix(world, "POST", url(template, "copy/"), expect(302, anonymous=302, outsider=302))
    check_matrix(world, "POST", url(template, "follow/"), expect(302, anonymous=302, outsider=302))
    assert PipelineTemplate.objects.get(pk=template.pk).name == "Docker image build → deploy"


def test_matrix_custom_template_pages(world):
    template, other = custom(world), other_custom(world)
    seen = expect(200, anonymous=302)
    check_matrix(world, "GET", url(template), seen, other_url=url(other))
    check_matrix(
        world, "GET", url(template, "edit/"), expect(403, anonymous=302, developer=200), other_url=url(other, "edit/")
    )
    check_matrix(
        world,
        "POST",
        url(template, "edit/"),
        expect(403, anonymous=302, developer=302),
        data={"name": "Renamed", "definition": VALID_YAML},
        other_url=url(other, "edit/"),
    )
    check_matrix(
        world,
        "POST",
        url(template, "delete/"),
        expect(403, anonymous=302, developer=302),
        other_url=url(other, "delete/"),
    )
    check_matrix(world, "POST", url(template, "copy/"), expect(302, anonymous=302), other_url=url(other, "copy/"))
    check_matrix(world, "POST", url(template, "follow/"), expect(302, anonymous=302), other_url=url(other, "follow/"))
    check_matrix(world, "GET", url(template, "generate/"), seen, other_url=url(other, "generate/"))
    check_matrix(world, "GET", url(template, "delete/"), expect(403, anonymous=302, developer=405))


def test_matrix_generate_step_two(world, git_endpoint):
    """M3: the project step needs ADD_PIPELINE: viewer-like roles 403, not a member 404."""
    template = custom(world)
    step2 = url(template, f"generate/?project={world.project.pk}")
    check_matrix(world, "GET", step2, expect(403, anonymous=302, **ADDERS))
    post = {
        "project": world.project.pk,
        "name": "gen",
        "endpoint": git_endpoint.pk,
        "repository": "org/app",
        "default_branch": "main",
        "alias": "app",
    }
    check_matrix(
        world,
        "POST",
        url(template, "generate/"),
        expect(403, anonymous=302, creator=302, manager=302, developer=302),
        data=post,
        other_url=url(other_custom(world), "generate/"),
    )
    assert not Pipeline.objects.exists()


# --------------------------------------------------------------------------- list and detail


def test_list_tabs_and_followed_filter(world):
    client = browser(world)
    custom(world)
    TemplateFollow.objects.create(template=system("python-ci"), user=world.users["developer"])
    page = client.get("/templates/").content.decode()
    assert "Maven build → deploy to Kubernetes" in page and "Team build" in page and 'data-testid="edit"' in page
    custom_tab = client.get("/templates/?tab=custom").content.decode()
    assert "Team build" in custom_tab and "Maven build" not in custom_tab
    system_tab = client.get("/templates/?tab=system").content.decode()
    assert "Team build" not in system_tab and 'data-testid="edit"' not in system_tab  # read-only (M1)
    followed = client.get("/templates/?followed=1").content.decode()
    assert "Python CI with code check" in followed and "Maven build" not in followed
    assert 'data-testid="templates-empty"' in client.get("/templates/?tab=custom&q=zzz").content.decode()


def test_detail_shows_workflow_and_parameters(world):
    response = browser(world, "viewer").get(url(system("python-ci")))
    page = response.content.decode()
    assert 'class="workflow"' in page and page.count('class="workflow-stage"') == 3
    assert 'data-task="Ruff"' in page and "2 quality gates" not in page and "1 quality gate" in page
    assert "${releaseversion}" in page and "3.11, 3.12, 3.13" in page
    assert 'data-testid="edit"' not in page and 'data-testid="delete"' not in page


def test_reachable_from_a_project_and_the_pipeline_home(world):
    client = browser(world)
    project_page = client.get(f"/projects/{world.project.pk}/").content.decode()
    assert f"/templates/?project={world.project.pk}" in project_page
    listing = client.get(f"/templates/?project={world.project.pk}").content.decode()
    assert f"generate/?project={world.project.pk}" in listing
    as_viewer = browser(world, "viewer").get(f"/templates/?project={world.project.pk}").content.decode()
    assert "generate/?project=" not in as_viewer  # a viewer may not add pipelines there: step 1 instead
    home = client.get("/pipelines/")
    assert home.status_code == 200 and home.context["templates_url"] == "/templates/"


# --------------------------------------------------------------------------- create, edit, copy, delete, follow


def test_create_and_edit_custom_template_as_yaml(world):
    client = browser(world)
    response = client.post(
        "/templates/new/", {"name": "YAML one", "project": world.project.pk, "definition": VALID_YAML}
    )
    template = PipelineTemplate.objects.get(name="YAML one")
    assert response.status_code == 302 and response["Location"] == url(template)
    assert template.owner == world.users["developer"] and template.project == world.project
    edit = client.get(url(template, "edit/")).content.decode()
    assert "releaseversion" in edit and "timeout_minutes: 60" in edit  # stored normalized
    client.post(url(template, "edit/"), {"name": "YAML two", "definition": VALID_YAML})
    template.refresh_from_db()
    assert template.name == "YAML two" and template.project is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("stages: [", "Not valid YAML (line"),
        ("- a\n- b", "Write a mapping"),
        ("parameters:\n  - {name: hosts, type: host_group}", "parameters[0].type: Template parameters can be"),
        (
            "parameters:\n  - {name: t, secret: true, default: abcdefgh}",
            "parameters[0].secret: Template parameters cannot be secret",
        ),
        (
            "stages:\n  - name: S\n    tasks:\n      - {name: b, type: build, config: {source: app}}",
            "stages[0].tasks[0].config.commands: ",
        ),
        (
            "stages:\n  - name: S\n    tasks:\n      - {name: d, type: deploy, config: {target: host_group, "
            "host_group: web, commands: x}}",
            "stages[0].tasks[0].config.host_group: Leave the host group empty",
        ),
        ("name: x", "Unknown field"),
    ],
)
def test_yaml_errors_are_shown_with_paths(world, text, expected):
    response = browser(world).post("/templates/new/", {"name": "Bad", "definition": text})
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert not PipelineTemplate.objects.filter(system=False).exists()


def test_create_from_pipeline_prefills_the_form(world):
    pipeline_services.create_pipeline(
        world.users["creator"],
        world.project,
        {
            "name": "svc",
            "parameters": [{"name": "token", "type": "string", "default": "hidden-Value-1", "secret": True}],
            "stages": [{"name": "Ship", "tasks": [{"name": "b", "type": "build", "config": {"commands": "make"}}]}],
        },
    )
    pipeline = Pipeline.objects.get(name="svc")
    page = browser(world, "viewer").get(f"/templates/new/?from_pipeline={pipeline.pk}").content.decode()
    assert "Ship" in page and "hidden-Value-1" not in page and "name: token" not in page
    outsider = browser(world, "outsider").get(f"/templates/new/?from_pipeline={pipeline.pk}").content.decode()
    assert "Ship" not in outsider


def test_copy_delete_and_follow(world):
    client = browser(world, "tester")
    response = client.post(url(system("blank"), "copy/"))
    copied = PipelineTemplate.objects.get(owner=world.users["tester"])
    assert response["Location"] == url(copied, "edit/") and copied.name == "Blank - copy"
    client.post(url(system("blank"), "follow/"), {"action": "follow", "next": "https://evil.example/"})
    assert TemplateFollow.objects.filter(user=world.users["tester"]).count() == 1
    response = client.post(url(system("blank"), "follow/"), {"action": "unfollow", "next": "/templates/?tab=system"})
    assert response["Location"] == "/templates/?tab=system" and not TemplateFollow.objects.exists()
    assert client.post(url(copied, "delete/"))["Location"] == "/templates/"
    assert not PipelineTemplate.objects.filter(pk=copied.pk).exists()


# --------------------------------------------------------------------------- generate (M3)


def test_generate_two_steps_redirects_to_the_new_pipeline(world, git_endpoint, k8s_endpoint):
    client = browser(world, "developer")
    template = system("docker-image")
    step1 = client.get(url(template, "generate/")).content.decode()
    assert 'data-testid="generate-project"' in step1 and "Alpha" in step1 and "Beta" not in step1
    assert 'data-testid="generate-form"' not in step1
    step2 = client.get(url(template, f"generate/?project={world.project.pk}")).content.decode()
    assert 'name="deploy_endpoint"' in step2 and ">cluster<" in step2 and ">repo<" in step2
    assert 'name="host_group"' not in step2 and 'name="param_image"' in step2
    response = client.post(
        url(template, "generate/"),
        {
            "project": world.project.pk,
            "name": "shop",
            "endpoint": git_endpoint.pk,
            "repository": "org/shop",
            "default_branch": "main",
            "alias": "app",
            "deploy_endpoint": k8s_endpoint.pk,
            "param_image": "registry.example.com/shop/web",
            "param_releaseversion": "",
            "param_namespace": "shop",
        },
    )
    pipeline = Pipeline.objects.get(name="shop")
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{world.project.pk}/pipelines/{pipeline.pk}/"
    assert pipeline.creator == world.users["developer"]
    params = {p["name"]: p["default"] for p in pipeline.definition["parameters"]}
    assert params == {"releaseversion": "1.0.0", "image": "registry.example.com/shop/web", "namespace": "shop"}


def test_generate_errors_land_on_the_fields(world, git_endpoint, host_group):
    client = browser(world, "manager")
    template = system("host-group-deploy")
    base = {
        "project": world.project.pk,
        "name": "hosts",
        "endpoint": git_endpoint.pk,
        "repository": "org/app",
        "default_branch": "main",
        "alias": "app",
    }
    response = client.post(url(template, "generate/"), base)  # no host group chosen
    assert response.status_code == 200
    assert response.context["form"].errors.get("host_group")
    bad_branch = client.post(
        url(template, "generate/"), {**base, "host_group": "web-servers", "default_branch": "bad branch"}
    )
    assert bad_branch.context["form"].errors.get("default_branch")
    no_repo = client.post(url(template, "generate/"), {**base, "repository": ""})
    assert no_repo.context["form"].errors.get("repository")
    ok = client.post(url(template, "generate/"), {**base, "host_group": "web-servers"})
    assert ok.status_code == 302 and Pipeline.objects.filter(name="hosts").exists()


def test_odd_page_requests_are_not_500(world):
    client = browser(world)
    template = system("blank")
    assert client.get(f"/templates/{10**25}/").status_code == 404
    assert client.get(url(template, "generate/?project=abc")).status_code == 302
    assert client.get(url(template, f"generate/?project={10**30}")).status_code == 302
    assert client.get(url(template, f"generate/?project={world.other_project.pk}")).status_code == 404
    assert client.post(url(template, "generate/"), {"name": "x"}).status_code == 302  # no project: step 1
    assert client.get("/templates/?tab=nope&followed=yes&q=%00&project=x").status_code == 200
    assert client.get("/templates/new/?from_pipeline=99999999999999999999").status_code == 200
    assert client.post("/templates/new/", {"name": "x", "definition": "a: &a [*a]"}).status_code == 200
    assert client.post("/templates/new/", {"name": "", "project": "999", "definition": ""}).status_code == 200
