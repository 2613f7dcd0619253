from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere
from gongzhi.volunteering.selectors import may_run_volunteering


def volunteering(request):
    """Which of the organiser, award and report links the signed-in user gets (lazy: most pages never ask)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may_run_volunteering": False, "may_award_points": False, "may_view_volunteering": False}
    return {
        "may_run_volunteering": lambda: may_run_volunteering(user),
        "may_award_points": lambda: has_perm_anywhere(user, Perm.AWARD_POINTS),
        "may_view_volunteering": lambda: has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING),
    }
