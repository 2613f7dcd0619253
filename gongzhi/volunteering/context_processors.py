from gongzhi.volunteering.selectors import may_run_volunteering


def volunteering(request):
    """Whether the signed-in user gets the organiser and outlet links (lazy: most pages never ask)."""
    user = getattr(request, "user", None)
    return {"may_run_volunteering": (lambda: may_run_volunteering(user)) if user is not None else False}
