from gongzhi.core.notifications import unread_count
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere

LARGE_TEXT_COOKIE = "gz_large_text"


def large_text_enabled(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.large_text
    return request.COOKIES.get(LARGE_TEXT_COOKIE) == "1"


def preferences(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "large_text": large_text_enabled(request),
        "unread_notifications": (lambda: unread_count(user)) if signed_in else 0,
        # Staff who see residents somewhere get the workbench link (lazy: most pages never ask).
        "is_staff_member": (lambda: has_perm_anywhere(user, Perm.VIEW_RESIDENTS)) if signed_in else False,
        "may_import_roster": (lambda: has_perm_anywhere(user, Perm.IMPORT_ROSTER)) if signed_in else False,
        "may_export_roster": (lambda: has_perm_anywhere(user, Perm.EXPORT_ROSTER)) if signed_in else False,
    }
