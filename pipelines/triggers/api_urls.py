urlpatterns = []  # execution-plan API (webhook URL/secret, deliveries, dry-run)
