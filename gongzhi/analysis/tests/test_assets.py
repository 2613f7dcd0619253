"""The asset map: who may put what on it (a skill only with its resident's consent), searching it, what
residents see of it (skills of those willing to help, names masked), scoping, and the map's page with what
the platform already knows (organisations, their shared resources, volunteers' skills)."""

import pytest
from django.urls import reverse
from django.utils import translation

from gongzhi.analysis import assets as asset_map
from gongzhi.analysis.models import Asset, AssetKind
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import AuditEvent, Organisation
from gongzhi.core.services import resident_create
from gongzhi.sharing.models import Resource
from gongzhi.volunteering.models import VolunteerProfile


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def linked(people):
    """The personas link the resident's record to their account behind the object's back."""
    people.resident_record.refresh_from_db()


def add(people, *, by=None, region=None, kind=AssetKind.SPACE, name="清波书屋", **fields):
    return asset_map.asset_add(
        by=by or people.community_worker, region=region or people.compound, kind=kind, name=name, **fields
    )


def skill(people, *, resident=None, name="理发", willing_to_help=True, **fields):
    return add(
        people,
        kind=AssetKind.SKILL,
        name=name,
        resident=resident or people.neighbour_record,
        resident_agreed=True,
        willing_to_help=willing_to_help,
        **fields,
    )


# Services ------------------------------------------------------------------------------------------------


class TestAdding:
    def test_it_puts_an_asset_in_the_community_of_its_place(self, people):
        asset = add(people, offers="周末开放阅览", keywords="读书 儿童")
        assert (asset.community, asset.region, asset.created_by) == (
            people.community,
            people.compound,
            people.community_worker,
        )

    def test_it_records_a_skill_with_the_consent_staff_were_given(self, people):
        asset = skill(people)
        assert asset.resident == people.neighbour_record
        # Placed where the resident lives, whatever place staff gave.
        assert asset.region == people.building_2
        consent = AuditEvent.objects.get(action=AuditEvent.Action.CONSENT, target_id=str(asset.pk))
        assert consent.actor == people.community_worker
        assert consent.detail["given"] == "to_staff"
        assert consent.detail["resident_id"] == people.neighbour_record.pk
        assert consent.detail["statement"] == asset_map.SKILL_CONSENT

    def test_a_resident_adds_their_own_skill(self, people):
        asset = asset_map.asset_add(
            by=people.resident,
            region=people.resident_record.region,
            kind=AssetKind.SKILL,
            name="修自行车",
            resident=people.resident_record,
            resident_agreed=True,
        )
        assert asset.resident == people.resident_record
        consent = AuditEvent.objects.get(action=AuditEvent.Action.CONSENT, target_id=str(asset.pk))
        assert (consent.actor, consent.detail["given"]) == (people.resident, "by_resident")

    def test_a_street_officer_keeps_the_map_of_the_street_s_communities(self, people):
        asset = add(people, by=people.street_officer, region=people.sibling_community)
        assert asset.community == people.sibling_community

    @pytest.mark.parametrize("persona", ["district_officer", "grid_worker", "outsider", "resident"])
    def test_it_refuses_who_does_not_keep_the_community_s_map(self, people, persona):
        with pytest.raises(ServiceError, match="Only the community's staff"):
            add(people, by=getattr(people, persona))
        assert not Asset.objects.exists()

    def test_a_resident_cannot_add_someone_else_s_skill(self, people):
        with pytest.raises(ServiceError, match="Only the community's staff"):
            asset_map.asset_add(
                by=people.resident,
                region=people.building_2,
                kind=AssetKind.SKILL,
                name="针灸",
                resident=people.neighbour_record,
                resident_agreed=True,
            )
        assert not Asset.objects.exists()

    def test_a_resident_can_add_only_a_skill(self, people):
        with pytest.raises(ServiceError):
            asset_map.asset_add(
                by=people.resident,
                region=people.building,
                kind=AssetKind.SPACE,
                name="我家车库",
                resident=people.resident_record,
            )
        assert not Asset.objects.exists()


class TestBadInput:
    def test_it_refuses_a_missing_name(self, people):
        with pytest.raises(ServiceError) as refused:
            add(people, name="  ")
        assert refused.value.field == "name"
        assert not Asset.objects.exists()

    def test_it_refuses_a_skill_without_a_resident(self, people):
        with pytest.raises(ServiceError, match="choose who") as refused:
            add(people, kind=AssetKind.SKILL, name="理发", resident_agreed=True)
        assert refused.value.field == "resident"
        assert not Asset.objects.exists()

    def test_it_refuses_a_skill_without_the_resident_s_consent(self, people):
        with pytest.raises(ServiceError, match="consent"):
            add(people, kind=AssetKind.SKILL, name="理发", resident=people.neighbour_record)
        assert not Asset.objects.exists()
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT).exists()

    def test_it_refuses_a_resident_outside_the_community(self, people):
        with pytest.raises(ServiceError, match="does not live in this community"):
            skill(people, resident=people.other_resident_record)
        assert not Asset.objects.exists()

    def test_it_refuses_a_resident_on_an_asset_other_than_a_skill(self, people):
        with pytest.raises(ServiceError, match="Only a skill"):
            add(people, resident=people.neighbour_record)

    def test_it_refuses_an_unknown_kind(self, people):
        with pytest.raises(ServiceError) as refused:
            add(people, kind="treasure")
        assert refused.value.field == "kind"

    def test_it_refuses_an_organisation_of_another_district(self, people):
        far = Organisation.objects.create(
            name="武侯商会", kind="social_organisation", region=people.other_district
        )
        with pytest.raises(ServiceError, match="does not serve"):
            add(people, kind=AssetKind.ASSOCIATION, name="商会", organisation=far)

    def test_it_links_an_organisation_serving_the_community_from_above(self, people):
        asset = add(people, kind=AssetKind.INSTITUTION, name="社工站", organisation=people.agency)
        assert asset.organisation == people.agency


class TestChanging:
    def test_staff_change_an_asset_and_its_place(self, people):
        asset = add(people)
        asset_map.asset_update(
            asset=asset,
            by=people.community_secretary,
            name="清波书屋（新）",
            offers="晚间开放",
            region=people.grid,
        )
        asset.refresh_from_db()
        assert (asset.name, asset.offers, asset.region) == ("清波书屋（新）", "晚间开放", people.grid)

    def test_a_change_keeps_a_skill_where_its_resident_lives(self, people):
        asset = skill(people)
        asset_map.asset_update(asset=asset, by=people.community_worker, name="理发", region=people.grid)
        asset.refresh_from_db()
        assert asset.region == people.building_2

    def test_a_resident_changes_and_removes_their_own_skill(self, people):
        asset = skill(people, resident=people.resident_record)
        asset_map.asset_update(asset=asset, by=people.resident, name="理发", willing_to_help=False)
        asset.refresh_from_db()
        assert not asset.willing_to_help
        asset_map.asset_remove(asset=asset, by=people.resident)
        assert not Asset.objects.exists()

    def test_a_resident_cannot_change_another_s_skill(self, people):
        asset = skill(people)
        with pytest.raises(ServiceError):
            asset_map.asset_update(asset=asset, by=people.resident, name="乱改")
        with pytest.raises(ServiceError):
            asset_map.asset_remove(asset=asset, by=people.resident)
        asset.refresh_from_db()
        assert asset.name == "理发"

    def test_a_change_without_a_name_changes_nothing(self, people):
        asset = add(people)
        with pytest.raises(ServiceError):
            asset_map.asset_update(asset=asset, by=people.community_worker, name="", offers="改了")
        asset.refresh_from_db()
        assert (asset.name, asset.offers) == ("清波书屋", "")

    def test_a_district_officer_only_reads(self, people):
        asset = add(people)
        with pytest.raises(ServiceError):
            asset_map.asset_remove(asset=asset, by=people.district_officer)
        assert Asset.objects.filter(pk=asset.pk).exists()


# Reads ---------------------------------------------------------------------------------------------------


class TestSearch:
    def test_it_finds_by_keyword_offer_or_description_ignoring_case(self, people):
        by_keyword = add(people, name="Reading room", keywords="Books children")
        by_offer = add(people, name="单位食堂", kind=AssetKind.WORK_UNIT, offers="老人午餐 books 半价")
        add(people, name="篮球场", description="晚上有灯")
        found = asset_map.asset_search(people.community_worker, q="BOOKS")
        assert set(found) == {by_keyword, by_offer}

    def test_every_word_must_match(self, people):
        both = add(people, name="书屋", keywords="阅读 儿童")
        add(people, name="老年书画室", keywords="阅读")
        assert list(asset_map.asset_search(people.community_worker, q="阅读 儿童")) == [both]

    def test_it_filters_by_kind(self, people):
        space = add(people)
        skill(people)
        assert list(asset_map.asset_search(people.community_worker, kind=AssetKind.SPACE)) == [space]

    def test_it_searches_a_region_s_subtree(self, people):
        in_compound = add(people, region=people.compound)
        in_building = add(people, region=people.building, name="楼道图书角")
        add(people, region=people.community, name="社区广场")
        add(people, by=people.street_officer, region=people.sibling_community, name="东坡广场")
        found = asset_map.asset_search(people.street_officer, region=people.compound)
        assert set(found) == {in_compound, in_building}
        assert asset_map.asset_search(people.street_officer, region=people.street).count() == 4


class TestWhoSeesWhat:
    def test_staff_overseeing_the_community_see_every_asset(self, people):
        add(people)
        skill(people, willing_to_help=False)
        for persona in ["community_worker", "street_officer", "district_officer"]:
            assert asset_map.assets_visible_to(getattr(people, persona)).count() == 2

    def test_residents_see_skills_only_of_those_willing_to_help(self, people):
        space = add(people)
        willing = skill(people, name="理发")
        skill(people, name="针灸", willing_to_help=False)
        assert set(asset_map.assets_visible_to(people.resident)) == {space, willing}

    def test_a_resident_sees_their_own_skill_even_when_not_offering_help(self, people):
        own = skill(people, resident=people.resident_record, willing_to_help=False)
        assert list(asset_map.assets_visible_to(people.resident)) == [own]

    def test_residents_see_names_masked_and_staff_in_full(self, people):
        asset = skill(people)
        assert asset_map.holder_name(people.resident, asset) == "李*奶"
        assert asset_map.holder_name(people.community_worker, asset) == "李奶奶"

    def test_a_long_name_keeps_its_first_and_last_characters(self, people):
        resident = resident_create(
            created_by=people.admin, region=people.building, name="欧阳丽娜", room="1-302"
        )
        asset = skill(people, resident=resident)
        assert asset_map.holder_name(people.resident, asset) == "欧**娜"

    def test_the_outsider_and_another_community_s_resident_see_nothing(self, people, django_user_model):
        add(people)
        skill(people)
        assert not asset_map.assets_visible_to(people.outsider).exists()
        other = django_user_model.objects.create_user("13700001111", "x", name="王吉福")
        people.other_resident_record.user = other
        people.other_resident_record.save(update_fields=["user"])
        assert not asset_map.assets_visible_to(other).exists()


class TestVolunteersSkills:
    def test_it_counts_skills_by_keyword_without_names(self, people):
        from gongzhi.volunteering.selectors import skills_in_region

        for number in range(6):
            resident = resident_create(
                created_by=people.admin, region=people.building, name=f"志愿者{number}", room=f"3-{number}"
            )
            skills = "急救、理发" if number % 2 else "急救，电脑"
            VolunteerProfile.objects.create(
                resident=resident, number=f"V{number}", qr_token=f"t{number}", skills=skills
            )
        assert skills_in_region(people.community) == [("急救", 6), ("理发", 3), ("电脑", 3)]
        assert skills_in_region(people.sibling_community) == []


# Pages ---------------------------------------------------------------------------------------------------


def resource(people, *, name="社区之家活动室", organisation=None, is_active=True):
    return Resource.objects.create(
        community=people.community,
        region=people.community,
        organisation=organisation,
        kind="activity_room",
        name=name,
        address="清波路1号",
        is_active=is_active,
        created_by=people.community_worker,
    )


class TestMapPage:
    def test_it_lists_the_map_with_counts_by_kind(self, people, login):
        add(people)
        add(people, name="老街故事", kind=AssetKind.CULTURE)
        skill(people)
        page = login(people.community_worker).get(reverse("analysis:assets"), {"region": people.community.pk})
        assert page.status_code == 200
        html = page.content.decode()
        assert "清波书屋" in html and "老街故事" in html and "李奶奶" in html
        assert "Physical space (1)" in html and "Culture and history (1)" in html and "All (3)" in html

    def test_it_filters_by_kind_and_words(self, people, login):
        add(people)
        add(people, name="老街故事", kind=AssetKind.CULTURE, keywords="历史")
        client = login(people.community_worker)
        html = client.get(reverse("analysis:assets"), {"kind": "culture"}).content.decode()
        assert "老街故事" in html and "清波书屋" not in html
        html = client.get(reverse("analysis:assets"), {"q": "历史"}).content.decode()
        assert "老街故事" in html and "清波书屋" not in html

    def test_it_shows_organisations_their_shared_resources_and_volunteers_skills(self, people, login):
        resource(people, name="银行职工食堂", organisation=people.work_unit)
        resource(people, name="社区之家活动室")
        resource(people, name="停用的车位", is_active=False)
        VolunteerProfile.objects.create(
            resident=people.neighbour_record, number="V1", qr_token="t1", skills="剪纸"
        )
        html = login(people.community_worker).get(reverse("analysis:assets")).content.decode()
        assert "蜀都银行" in html and "银行职工食堂" in html and "社区之家活动室" in html
        assert "停用的车位" not in html
        # Counts only, and a count under 5 is not shown.
        assert "剪纸" in html and "fewer than 5" in html

    def test_a_resident_sees_masked_names_and_no_unwilling_skill(self, people, login):
        add(people)
        skill(people, name="理发")
        skill(people, name="针灸", willing_to_help=False)
        page = login(people.resident).get(reverse("analysis:assets"))
        html = page.content.decode()
        assert page.status_code == 200
        assert "理发" in html and "李*奶" in html
        assert "李奶奶" not in html and "针灸" not in html
        assert "2栋" not in html  # not where the person with the skill lives

    def test_the_map_of_a_region_outside_scope_is_404(self, people, login):
        client = login(people.community_worker)
        assert (
            client.get(reverse("analysis:assets"), {"region": people.sibling_community.pk}).status_code == 404
        )
        assert client.get(reverse("analysis:assets"), {"region": "x"}).status_code == 404
        resident = login(people.resident)
        assert resident.get(reverse("analysis:assets"), {"region": people.street.pk}).status_code == 404

    def test_someone_with_no_map_gets_404(self, people, login, django_user_model):
        nobody = django_user_model.objects.create_user("13600000000", "x", name="路人")
        assert login(nobody).get(reverse("analysis:assets")).status_code == 404

    def test_the_list_takes_a_bounded_number_of_queries(self, people, login, django_assert_max_num_queries):
        client = login(people.street_officer)
        for number in range(40):
            add(people, by=people.street_officer, name=f"空间{number}")
            skill(people, name=f"技能{number}")
        for number in range(5):
            resource(people, name=f"资源{number}", organisation=people.work_unit)
        with django_assert_max_num_queries(15):
            page = client.get(reverse("analysis:assets"), {"region": people.community.pk})
        assert page.status_code == 200


class TestAssetPages:
    def test_staff_add_an_asset_through_the_page(self, people, login):
        client = login(people.community_worker)
        assert client.get(reverse("analysis:asset_new")).status_code == 200
        response = client.post(
            reverse("analysis:asset_new"),
            {
                "community": people.community.pk,
                "kind": "space",
                "name": "屋顶花园",
                "region": people.compound.pk,
            },
        )
        asset = Asset.objects.get()
        assert response.status_code == 302 and response["Location"] == reverse(
            "analysis:asset", args=[asset.pk]
        )
        assert (asset.name, asset.region) == ("屋顶花园", people.compound)

    def test_staff_find_the_resident_and_record_their_consent(self, people, login):
        client = login(people.community_worker)
        html = client.get(reverse("analysis:asset_new"), {"q": "李奶"}).content.decode()
        assert f"resident={people.neighbour_record.pk}" in html
        data = {
            "community": people.community.pk,
            "kind": "skill",
            "name": "剪纸",
            "resident": people.neighbour_record.pk,
        }
        refused = client.post(reverse("analysis:asset_new"), data)
        assert refused.status_code == 400 and "consent" in refused.content.decode()
        assert not Asset.objects.exists()
        client.post(reverse("analysis:asset_new"), data | {"resident_agreed": "on"})
        assert Asset.objects.get().resident == people.neighbour_record

    def test_a_skill_without_a_resident_is_refused_on_the_page(self, people, login):
        response = login(people.community_worker).post(
            reverse("analysis:asset_new"),
            {"community": people.community.pk, "kind": "skill", "name": "剪纸", "resident_agreed": "on"},
        )
        assert response.status_code == 400 and "find them on the roster" in response.content.decode()
        assert not Asset.objects.exists()

    def test_a_missing_name_is_refused_on_the_page(self, people, login):
        response = login(people.community_worker).post(
            reverse("analysis:asset_new"), {"community": people.community.pk, "kind": "space", "name": ""}
        )
        assert response.status_code == 400
        assert not Asset.objects.exists()

    def test_a_resident_cannot_open_the_staff_form(self, people, login):
        assert login(people.resident).get(reverse("analysis:asset_new")).status_code == 404

    def test_a_resident_offers_their_own_skill_agreeing_to_the_statement(self, people, login):
        client = login(people.resident)
        page = client.get(reverse("analysis:my_skill")).content.decode()
        assert "I can change or remove it at any time" in page
        refused = client.post(reverse("analysis:my_skill"), {"name": "修自行车"})
        assert refused.status_code == 400 and not Asset.objects.exists()
        response = client.post(
            reverse("analysis:my_skill"), {"name": "修自行车", "willing_to_help": "on", "agreed": "on"}
        )
        assert response.status_code == 302
        asset = Asset.objects.get()
        assert (asset.resident, asset.kind, asset.willing_to_help) == (people.resident_record, "skill", True)
        assert "修自行车" in client.get(reverse("analysis:my_skill")).content.decode()

    def test_someone_without_a_resident_record_cannot_offer_a_skill(self, people, login):
        assert login(people.community_worker).get(reverse("analysis:my_skill")).status_code == 404

    def test_the_detail_page_masks_the_name_for_residents(self, people, login, client):
        asset = skill(people)
        html = login(people.resident).get(reverse("analysis:asset", args=[asset.pk])).content.decode()
        assert "李*奶" in html and "李奶奶" not in html and "Take off the map" not in html

    def test_outsiders_and_another_community_s_residents_get_404_on_an_asset(
        self, people, login, django_user_model
    ):
        asset = add(people)
        assert login(people.outsider).get(reverse("analysis:asset", args=[asset.pk])).status_code == 404
        other = django_user_model.objects.create_user("13700001111", "x", name="王吉福")
        people.other_resident_record.user = other
        people.other_resident_record.save(update_fields=["user"])
        assert login(other).get(reverse("analysis:asset", args=[asset.pk])).status_code == 404

    def test_a_resident_does_not_see_an_unwilling_neighbour_s_skill(self, people, login):
        asset = skill(people, willing_to_help=False)
        assert login(people.resident).get(reverse("analysis:asset", args=[asset.pk])).status_code == 404

    def test_staff_change_and_remove_an_asset(self, people, login):
        asset = add(people)
        client = login(people.community_worker)
        assert client.get(reverse("analysis:asset_edit", args=[asset.pk])).status_code == 200
        response = client.post(
            reverse("analysis:asset_edit", args=[asset.pk]), {"name": "书屋", "offers": "全天开放"}
        )
        assert response.status_code == 302
        asset.refresh_from_db()
        assert (asset.name, asset.offers, asset.region) == ("书屋", "全天开放", people.community)
        client.post(reverse("analysis:asset_remove", args=[asset.pk]))
        assert not Asset.objects.exists()

    def test_a_reader_cannot_change_an_asset(self, people, login):
        asset = add(people)
        client = login(people.district_officer)
        assert client.get(reverse("analysis:asset", args=[asset.pk])).status_code == 200
        assert client.get(reverse("analysis:asset_edit", args=[asset.pk])).status_code == 404
        assert client.post(reverse("analysis:asset_remove", args=[asset.pk])).status_code == 404
        assert Asset.objects.exists()

    def test_a_resident_takes_back_their_skill(self, people, login):
        asset = skill(people, resident=people.resident_record)
        client = login(people.resident)
        response = client.post(reverse("analysis:asset_remove", args=[asset.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("analysis:my_skill")
        assert not Asset.objects.exists()
