from gongzhi.matters.selectors import may_handle_matters


def matters(request):
    """Whether the signed-in user gets the "to handle" links (lazy: most pages never ask)."""
    user = getattr(request, "user", None)
    return {"may_handle_matters": (lambda: may_handle_matters(user)) if user is not None else False}
