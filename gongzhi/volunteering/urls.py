"""Volunteering pages. Each views module keeps its own routes next to its views; this file puts them
together under one namespace."""

from gongzhi.volunteering.views import activities, records, reports, supermarket

app_name = "volunteering"

urlpatterns = [*activities.urls, *records.urls, *supermarket.urls, *reports.urls]
