"""The asset map's capacity inventory, reused by volunteering: an activity's organisers see the neighbours
who offered the skills it wants."""

from django.urls import reverse

from gongzhi.analysis import assets
from gongzhi.core.services import resident_create


def _skill(people, name, *, willing=True, region=None, keywords="", offers=""):
    resident = resident_create(
        created_by=people.admin, region=region or people.building, name="梁医生", room="1-9"
    )
    return assets.asset_add(
        by=people.admin,
        region=resident.region,
        kind="skill",
        name=name,
        offers=offers,
        keywords=keywords,
        willing_to_help=willing,
        resident=resident,
        resident_agreed=True,
    )


def test_it_lists_the_neighbours_whose_skills_match(people, login, make_activity):
    activity = make_activity(title="社区义诊", skills_wanted="测血压、急救")
    _skill(people, "退休医生", keywords="测血压 健康咨询", offers="每周六免费测血压")
    _skill(people, "家电维修")  # not wanted
    _skill(people, "急救培训", willing=False)  # not willing to help
    page = (
        login(people.community_worker)
        .get(reverse("volunteering:roster", args=[activity.pk]))
        .content.decode()
    )
    section = page[page.index('data-testid="skilled-neighbours"') :]
    assert "退休医生" in section and "梁医生" in section
    assert "家电维修" not in section and "急救培训" not in section


def test_the_section_is_absent_without_skills_wanted(people, login, make_activity):
    activity = make_activity(title="清理楼道")
    page = (
        login(people.community_worker)
        .get(reverse("volunteering:roster", args=[activity.pk]))
        .content.decode()
    )
    assert 'data-testid="skilled-neighbours"' not in page


def test_neighbours_of_another_community_are_not_offered(people, make_activity):
    _skill(people, "退休医生", keywords="测血压", region=people.other_building)
    assert assets.neighbours_with_skills(people.admin, community=people.community, wanted="测血压") == []
