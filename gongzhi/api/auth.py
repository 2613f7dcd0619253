"""Who is calling: an API token (`Authorization: Bearer gz_...`) or the site's own session.

A token is tried first, so a script never needs a CSRF token; a session is an ambient credential, so its
unsafe requests must carry the CSRF token like any form on the site.
"""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from gongzhi.core import versioned
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import ApiToken

# Writing last_used_at on every call would turn each read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class TokenRefused(AuthenticationError):
    """A bearer token was sent but is unknown, revoked or its owner deactivated: answer 401 at once rather
    than fall back to a session, so a client learns that its token is bad."""


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        api_token = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=lookup_hash(token), revoked_at=None, user__is_active=True)
            .first()
        )
        if api_token is None:
            raise TokenRefused(message=_("This API token is unknown or has been revoked."))
        user = api_token.user
        versioned.mark_current(user)  # just read, with the token
        # Before any scope is computed: gongzhi.core.scope narrows an organisation token to that
        # organisation's roles.
        user.token_organisation_id = api_token.organisation_id
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The site's session. Unlike ninja's django_auth it answers 401 (not a CSRF error) to an anonymous
    caller, and checks CSRF only once it knows the session is signed in."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        if not request.user.is_authenticated:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if self.csrf and not exempt and check_csrf(request) is not None:
            raise AuthorizationError(message=_("The CSRF check failed: send the X-CSRFToken header."))
        return request.user


token_auth = ApiTokenAuth()
session_auth = SessionAuth()
