"""The matters dashboard pages (being built)."""

from django.http import HttpResponse


def dashboard(request):
    return HttpResponse(status=501)


def dashboard_export(request):
    return HttpResponse(status=501)
