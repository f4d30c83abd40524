urlpatterns = []  # webhook receiver and execution-plan pages
