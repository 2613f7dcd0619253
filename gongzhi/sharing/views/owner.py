"""The owner's pages: list and run a resource, approve requests, check people in, the contribution report."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

from gongzhi.sharing import selectors


@login_required
def manage_resource(request, resource_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    return render(request, "sharing/manage_resource.html", {"resource": resource})


urls = [path("manage/<int:resource_id>/", manage_resource, name="manage_resource")]
