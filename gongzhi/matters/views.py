from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


board = report = similar = mine = queue = detail = me_too = act = co_handle = _todo
