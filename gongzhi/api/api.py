"""The REST API at /api/v1/: the OpenAPI document at openapi.json, interactive docs at docs.

One router per app, each mounted below. A capability app writes `router = Router()` in its own api.py,
calling the same selectors and services as its pages, and is added here:

    from gongzhi.matters.api import router as matters_router
    api.add_router("/matters/", matters_router)

Every operation requires a caller (an API token or the session, see gongzhi.api.auth) and answers
errors as gongzhi.api.errors describes.
"""

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from gongzhi.api.auth import session_auth, token_auth
from gongzhi.api.core import router as core_router
from gongzhi.api.errors import install_error_handlers
from gongzhi.api.matters import router as matters_router

api = NinjaAPI(
    title="Gongzhi API",
    version="1",
    description=(
        "Community governance and services. Authenticate with `Authorization: Bearer gz_...` (create a token "
        "on your account page) or with the site's session (unsafe methods then need the X-CSRFToken header)."
    ),
    urls_namespace="api",
    auth=[token_auth, session_auth],
    # Swagger UI from ninja's own static files (no CDN), started by its static swagger-ui-init.js, so the
    # site's strict CSP holds. No online validator: the page must not call out to swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
)
install_error_handlers(api)

api.add_router("/", core_router)
api.add_router("/matters/", matters_router)
api.add_router("/volunteering/", "gongzhi.api.volunteering.router")
api.add_router("/consultations/", "gongzhi.api.consultations.router")
api.add_router("/sharing/", "gongzhi.api.sharing.router")
api.add_router("/analysis/", "gongzhi.api.analysis.router")
