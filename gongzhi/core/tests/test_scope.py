import pytest
from django.http import Http404

from gongzhi.core.models import Resident
from gongzhi.core.roles import Perm
from gongzhi.core.scope import in_community_scope, in_scope
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


PERSONAS = [
    "building_leader",
    "compound_leader",
    "grid_worker",
    "community_worker",
    "community_secretary",
    "street_officer",
    "district_officer",
    "outsider",
    "admin",
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_community_keyed_scope_finds_exactly_the_rows_of_the_region_scope(people, persona):
    user = getattr(people, persona)
    by_region = set(Resident.objects.filter(in_scope(user, Perm.VIEW_RESIDENTS)).values_list("pk", flat=True))
    by_community = set(
        Resident.objects.filter(in_community_scope(user, Perm.VIEW_RESIDENTS)).values_list("pk", flat=True)
    )
    assert by_community == by_region


def test_a_staff_members_own_record_outside_their_scope_stays_out_of_the_workbench(people):
    Resident.objects.filter(pk=people.other_resident_record.pk).update(user=people.community_worker)
    assert people.other_resident_record.pk not in residents_visible_to(people.community_worker).values_list(
        "pk", flat=True
    )


def test_an_organisation_token_does_not_see_its_makers_own_record(people):
    people.resident.token_organisation_id = people.agency.pk
    assert not residents_visible_to(people.resident).exists()
