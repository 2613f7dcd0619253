"""The one pagination every list of the API uses: `?limit=&offset=`, answered as {"items": [...], "count": N}
where count is the total number of matching rows. Use it as `@paginate(LimitOffset)`."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class LimitOffsetInput(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="How many items to return.")
    offset: int = Field(0, ge=0, description="How many items to skip.")


class LimitOffset(LimitOffsetPagination):
    Input = LimitOffsetInput

    def __init__(self, **kwargs):
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
