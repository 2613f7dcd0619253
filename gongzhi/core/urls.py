from django.contrib.auth import views as auth_views
from django.urls import path

from gongzhi.core.views import account, roster, site, workbench  # noqa: F401

urlpatterns = [
    path("", site.home, name="home"),
    path("healthz", site.healthz, name="healthz"),
    path("login/", site.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("prefs/large-text/", site.large_text_toggle, name="large-text"),
    path("notifications/", site.notification_list, name="notifications"),
]

# Accounts: registration, consent, claiming a resident record, API tokens.
urlpatterns += []

# The staff workbench: region tree, residents, households, organisations, roles, verification.
urlpatterns += []

# Roster import and export.
urlpatterns += []
