"""Consultation pages. Each views module keeps its routes next to its views; this file joins them under one
namespace."""

from gongzhi.consultations.views import floor_areas, public, staff

app_name = "consultations"

urlpatterns = [*public.urls, *staff.urls, *floor_areas.urls]
