import pytest
from django.http import Http404

from gongzhi.core.selectors import (
    access_organisation,
    access_resident,
    organisations_visible_to,
    regions_visible_to,
    residents_visible_to,
)


def names(queryset):
    return sorted(queryset.values_list("name", flat=True))


def test_it_shows_a_community_worker_the_residents_of_their_community_only(people):
    assert names(residents_visible_to(people.community_worker)) == ["张居民", "李奶奶"]


def test_it_shows_a_district_officer_everything_below_their_district_and_nothing_beside(people):
    visible = names(regions_visible_to(people.district_officer))
    assert "清波社区" in visible and "1栋" in visible
    assert "吉福社区" not in visible and "成都市" not in visible


def test_it_limits_a_building_leader_to_their_building(people):
    assert names(residents_visible_to(people.building_leader)) == ["张居民"]


def test_a_resident_sees_only_their_own_record(people):
    assert names(residents_visible_to(people.resident)) == ["张居民"]


def test_outsider_gets_404_for_a_resident_beyond_their_scope(people):
    with pytest.raises(Http404):
        access_resident(people.outsider, people.neighbour_record.pk)


def test_a_missing_resident_fails_exactly_like_a_forbidden_one(people):
    with pytest.raises(Http404):
        access_resident(people.community_worker, 999_999)


def test_provider_staff_see_their_own_organisation(people):
    assert access_organisation(people.provider_staff, people.agency.pk) == people.agency
    assert names(organisations_visible_to(people.provider_staff)) == ["青羊社工中心"]


def test_admin_sees_every_resident(people):
    assert residents_visible_to(people.admin).count() == 3
