from django.contrib.auth import views as auth_views
from django.urls import path

from gongzhi.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("prefs/large-text/", views.large_text_toggle, name="large-text"),
    path("notifications/", views.notification_list, name="notifications"),
]
