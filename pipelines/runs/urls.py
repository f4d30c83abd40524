urlpatterns = []  # run pages: start dialog, run detail, history, logs, packages
