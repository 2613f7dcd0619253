"""Authentication backends."""

from django.contrib.auth import backends

from gongzhi.core import versioned


class ModelBackend(backends.ModelBackend):
    """Django's, except that the user it reads for each request is marked as current, so that their roles
    and inbox count come from the caches kept under the user's versions (gongzhi.core.versioned)."""

    def get_user(self, user_id):
        user = super().get_user(user_id)
        if user is not None:
            versioned.mark_current(user)
        return user
