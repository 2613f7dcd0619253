from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from gongzhi.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("matters/", include("gongzhi.matters.urls")),
    path("open311/v2/", include("gongzhi.matters.open311")),
    path("volunteering/", include("gongzhi.volunteering.urls")),
    path("sharing/", include("gongzhi.sharing.urls")),
    path("consultations/", include("gongzhi.consultations.urls")),
    path("analysis/", include("gongzhi.analysis.urls")),
    path("", include("gongzhi.core.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
