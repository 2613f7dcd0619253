from django.urls import path

from gongzhi.matters import dashboard, views

app_name = "matters"

urlpatterns = [
    path("", views.board, name="board"),
    path("new/", views.report, name="report"),
    path("similar/", views.similar, name="similar"),
    path("mine/", views.mine, name="mine"),
    path("queue/", views.queue, name="queue"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", dashboard.dashboard_export, name="dashboard_export"),
    path("communities/<int:community_id>/categories/", views.categories, name="categories"),
    path("<int:matter_id>/", views.detail, name="detail"),
    path("<int:matter_id>/me-too/", views.me_too, name="me_too"),
    path("<int:matter_id>/photos/<int:photo_id>/", views.photo, name="photo"),
    path("<int:matter_id>/<slug:action>/", views.act, name="act"),
    path("co-handling/<int:co_handler_id>/<slug:action>/", views.co_handle, name="co_handle"),
]
