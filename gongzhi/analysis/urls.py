"""Analysis pages. Each views module keeps its routes next to its views; this file joins them under one
namespace."""

from gongzhi.analysis.views import assets, exports, needs, profile, surveys

app_name = "analysis"

urlpatterns = [*exports.urls, *surveys.urls, *needs.urls, *assets.urls, *profile.urls]
