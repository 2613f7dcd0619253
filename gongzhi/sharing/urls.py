"""Sharing pages. Each views module keeps its routes next to its views; this file joins them under one
namespace."""

from gongzhi.sharing.views import owner, public, report

app_name = "sharing"

urlpatterns = [*public.urls, *owner.urls, *report.urls]
