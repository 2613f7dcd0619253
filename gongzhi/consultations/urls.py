"""Consultation pages. Each views module keeps its routes next to its views; this file joins them under one
namespace."""

from gongzhi.consultations.views import public, staff

app_name = "consultations"

urlpatterns = [*public.urls, *staff.urls]
