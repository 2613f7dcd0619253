"""Authentication backends."""

from django.contrib.auth import backends

from gongzhi.core.scope import mark_roles_version_current


class ModelBackend(backends.ModelBackend):
    """Django's, except that the user it reads for each request carries a current roles_version, so that
    their role assignments come from the cache kept under it (gongzhi.core.scope.assignments_of)."""

    def get_user(self, user_id):
        user = super().get_user(user_id)
        if user is not None:
            mark_roles_version_current(user)
        return user
