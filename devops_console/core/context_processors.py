from devops_console.core.models import Project
from devops_console.core.permissions import VIEW


def navigation(request):
    """The project switcher: my projects, loaded lazily (one query, only when a page renders it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def my_projects():
        return list(Project.objects.restrict(user, VIEW).only("id", "name")[:200])

    return {"nav_projects": my_projects}
