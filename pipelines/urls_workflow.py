urlpatterns = []  # the workflow editor
