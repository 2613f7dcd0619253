"""Analysis pages. Each views module keeps its routes next to its views; this file joins them under one
namespace."""

from gongzhi.analysis.views import needs, surveys

app_name = "analysis"

urlpatterns = [*surveys.urls, *needs.urls]
