"""Every error the API answers has the same shape: {"detail": message}, plus "field" for a ServiceError.
Messages are translated into the request's language (LocaleMiddleware reads Accept-Language). Ninja's own
validation errors keep their 422 list of details."""

from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError

from gongzhi.api.auth import TokenRefused
from gongzhi.core.exceptions import ServiceError


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ServiceError)
    def service_error(request, error: ServiceError):
        return api.create_response(request, {"detail": str(error.message), "field": error.field}, status=400)

    @api.exception_handler(Http404)
    def not_found(request, error: Http404):
        # One body for "missing" and "outside your scope": the answer must not tell them apart.
        return api.create_response(request, {"detail": _("Not found.")}, status=404)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, error: AuthenticationError):
        detail = _("Sign in, or send an API token: Authorization: Bearer gz_…")
        return api.create_response(request, {"detail": detail}, status=401)

    @api.exception_handler(PermissionDenied)
    def forbidden(request, error: PermissionDenied):
        return api.create_response(request, {"detail": str(error) or _("You may not do this.")}, status=403)

    @api.exception_handler(HttpError)
    def http_error(request, error: HttpError):
        return api.create_response(request, {"detail": str(error.message)}, status=error.status_code)

    api.add_exception_handler(TokenRefused, http_error)


@contextmanager
def payload_fields(names: dict[str, str]):
    """Renames the field of a ServiceError raised inside to the payload's name for it: the services name the
    model's fields (`region`), a client sent the payload's (`region_id`)."""
    try:
        yield
    except ServiceError as error:
        error.field = names.get(error.field, error.field)
        raise
