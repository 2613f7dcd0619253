from gongzhi.sharing.forms_owner import may_list_resources
from gongzhi.sharing.reports import may_read_report
from gongzhi.sharing.selectors import may_run_sharing


def sharing(request):
    """Whether the signed-in user gets the link to the resources they run (lazy: most pages never ask)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may_run_sharing": False, "may_read_sharing_report": False}
    return {
        "may_run_sharing": lambda: may_list_resources(user) or may_run_sharing(user),
        "may_read_sharing_report": lambda: may_read_report(user),
    }
