"""Shared set-up for the matters tests: the platform's default categories and a way to report quickly."""

import pytest
from django.utils import translation

from gongzhi.matters import services
from gongzhi.matters.models import Category


@pytest.fixture
def categories(db) -> dict[str, Category]:
    services.default_categories_install()
    return {category.code: category for category in Category.objects.filter(community=None)}


@pytest.fixture
def report(people, categories):
    """Reports a matter as the resident of 1栋 unless told otherwise."""

    def make(code: str = "repairs", *, by=None, region=None, description="楼道灯坏了", **fields):
        return services.matter_report(
            entered_by=by or people.resident,
            category=categories[code],
            description=description,
            region=region or people.building,
            **fields,
        )

    return make


@pytest.fixture(autouse=True)
def english_messages():
    """Service messages are matched in English (the msgids); pages are checked in the default Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Photos go to a temporary folder, not the checkout's media/."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
