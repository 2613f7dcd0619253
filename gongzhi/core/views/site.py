from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from gongzhi.core.context_processors import LARGE_TEXT_COOKIE
from gongzhi.core.forms import MobileAuthenticationForm
from gongzhi.core.notifications import notifications_for
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere
from gongzhi.core.services import user_set_large_text


def home(request):
    is_staff_member = request.user.is_authenticated and has_perm_anywhere(request.user, Perm.VIEW_RESIDENTS)
    return render(request, "core/home.html", {"is_staff_member": is_staff_member})


@never_cache
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception as error:  # noqa: BLE001  (any failure means the database is not usable)
        database = f"error: {error.__class__.__name__}"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "error", "database": database, "vendor": connection.vendor},
        status=status,
    )


@never_cache
def ping(request):
    """The cheapest page behind the full middleware stack: the session and the signed-in user are loaded,
    as on every staff page, and nothing else is read. The load benchmark (bench/load.py) measures the
    framework's floor with it."""
    return JsonResponse({"status": "ok", "signed_in": request.user.is_authenticated})


class LoginView(auth_views.LoginView):
    form_class = MobileAuthenticationForm
    redirect_authenticated_user = True


def safe_next(request, default: str = "/") -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or default
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_POST
def large_text_toggle(request):
    """Switches the large-text, high-contrast mode; it stays on for the account and in the browser."""
    enabled = request.POST.get("enabled") == "1"
    if request.user.is_authenticated:
        user_set_large_text(user=request.user, enabled=enabled)
    response = HttpResponseRedirect(safe_next(request))
    response.set_cookie(
        LARGE_TEXT_COOKIE,
        "1" if enabled else "0",
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    return response


@login_required
def notification_list(request):
    notifications = list(notifications_for(request.user)[:100])
    notifications_for(request.user).filter(read_at=None).update(read_at=timezone.now())
    # The header's unread count is cached under the inbox version read with the user; reading moved it on.
    request.user.refresh_from_db(fields=["inbox_version"])
    return render(request, "core/notifications.html", {"notifications": notifications})
