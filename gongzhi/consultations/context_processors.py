from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere


def consultations(request):
    """Whether the signed-in user gets the staff's desk and rule-set links (lazy: most pages never ask)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may_run_consultations": False}
    return {"may_run_consultations": lambda: has_perm_anywhere(user, Perm.MANAGE_CONSULTATIONS)}
