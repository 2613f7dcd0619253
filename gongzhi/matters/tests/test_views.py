import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from gongzhi.matters import services
from gongzhi.matters.models import Category, Event, Matter, Status, Tier

pytestmark = pytest.mark.django_db


def jpeg(name="photo.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def report_form(categories, people, **fields):
    return {
        "category": categories["repairs"].pk,
        "region": people.building.pk,
        "description": "2单元楼道灯坏了一周",
        "urgency": "normal",
        **fields,
    }


def test_it_lists_public_matters_on_the_board_without_names(client, report, people):
    report(description="路灯不亮")
    report("neighbour-dispute", description="楼上漏水不肯修")
    response = client.get(reverse("matters:board"))
    body = response.content.decode()
    assert "路灯不亮" in body
    assert "楼上漏水" not in body
    assert people.resident.name not in body


def test_it_filters_the_board_by_region_and_status(client, report, people):
    report(description="清波的问题")
    report(
        by=people.other_resident_record.user or people.admin,
        region=people.other_building,
        description="吉福的问题",
    )
    response = client.get(reverse("matters:board"), {"region": people.community.pk, "status": "open"})
    body = response.content.decode()
    assert "清波的问题" in body and "吉福的问题" not in body
    closed_only = client.get(reverse("matters:board"), {"status": "closed"}).content.decode()
    assert "清波的问题" not in closed_only


def test_it_rejects_a_board_period_that_ends_before_it_starts(client, report):
    report()
    response = client.get(reverse("matters:board"), {"since": "2026-11-10", "until": "2026-11-01"})
    assert "The end date comes before the start date." in response.content.decode() or "结束日期" in (
        response.content.decode()
    )


def test_board_queries_do_not_grow_with_matters(client, report, django_assert_max_num_queries):
    for n in range(3):
        report(description=f"问题{n}")
    # filter choices (areas, categories), the rows, their places and their categories
    with django_assert_max_num_queries(5):
        client.get(reverse("matters:board"))
    for n in range(25):
        report(description=f"更多问题{n}")
    with django_assert_max_num_queries(5):
        response = client.get(reverse("matters:board"))
    assert response.content.decode().count('href="/matters/') >= 20


def test_it_reports_a_matter_with_a_photo_to_the_compound(client, login, people, categories):
    login(people.resident)
    response = client.post(reverse("matters:report"), report_form(categories, people, photos=[jpeg()]))
    matter = Matter.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("matters:detail", args=[matter.pk])
    assert matter.tier == Tier.COMPOUND and matter.handling_region == people.compound
    assert matter.reporter == people.resident
    assert matter.photos.count() == 1


def test_it_refuses_a_file_that_is_not_a_photo_and_creates_nothing(client, login, people, categories):
    login(people.resident)
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    response = client.post(reverse("matters:report"), report_form(categories, people, photos=[fake]))
    assert response.status_code == 200
    assert Matter.objects.count() == 0
    assert "has-error" in response.content.decode() or "field-error" in response.content.decode()


def test_it_refuses_a_description_over_4000_characters(client, login, people, categories):
    login(people.resident)
    response = client.post(
        reverse("matters:report"), report_form(categories, people, description="漏" * 4001)
    )
    assert response.status_code == 200 and Matter.objects.count() == 0


def test_it_refuses_an_unknown_category(client, login, people, categories):
    login(people.resident)
    response = client.post(reverse("matters:report"), report_form(categories, people, category=999999))
    assert response.status_code == 200 and Matter.objects.count() == 0


def test_it_asks_a_user_without_a_household_to_link_one_first(client, login, people):
    login(people.outsider)
    response = client.get(reverse("matters:report"))
    assert reverse("me") in response.content.decode()


def test_a_grid_worker_reports_for_a_resident(client, login, people, categories):
    login(people.grid_worker)
    url = reverse("matters:report") + f"?for={people.neighbour_record.pk}"
    assert people.neighbour_record.name in client.get(url).content.decode()
    client.post(url, report_form(categories, people, region=people.building_2.pk))
    matter = Matter.objects.get()
    assert matter.on_behalf_of == people.neighbour_record and matter.entered_by == people.grid_worker


def test_an_outsider_cannot_report_for_our_resident(client, login, people):
    login(people.outsider)
    response = client.get(reverse("matters:report") + f"?for={people.neighbour_record.pk}")
    assert response.status_code == 404


def test_it_shows_similar_matters_and_counts_me_too(client, login, report, people, categories):
    existing = report(description="院子里的垃圾没人清")
    login(people.building_leader)
    panel = client.get(
        reverse("matters:similar"), {"category": categories["repairs"].pk, "region": people.building_2.pk}
    )
    assert "院子里的垃圾没人清" in panel.content.decode()
    client.post(reverse("matters:me_too", args=[existing.pk]))
    existing.refresh_from_db()
    assert existing.me_too_count == 1
    assert existing.followers.filter(user=people.building_leader, me_too=True).exists()


def test_a_private_matter_is_404_to_outsiders_and_anonymous(client, login, report, people):
    matter = report("neighbour-dispute", description="邻居噪音纠纷")
    url = reverse("matters:detail", args=[matter.pk])
    assert client.get(url).status_code == 404
    login(people.outsider)
    assert client.get(url).status_code == 404
    login(people.compound_leader)
    assert "邻居噪音纠纷" in client.get(url).content.decode()


def test_the_public_page_hides_the_reporter(client, report, people):
    matter = report(description="公开的问题")
    body = client.get(reverse("matters:detail", args=[matter.pk])).content.decode()
    assert "公开的问题" in body and people.resident.name not in body


def test_the_compound_leader_accepts_and_the_reporter_sees_it(client, login, report, people):
    matter = report()
    login(people.compound_leader)
    page = client.get(reverse("matters:detail", args=[matter.pk])).content.decode()
    assert 'data-testid="action-accept"' in page
    client.post(reverse("matters:act", args=[matter.pk, "accept"]), {"note": "马上来"})
    matter.refresh_from_db()
    assert matter.status == Status.ACCEPTED
    login(people.resident)
    assert "马上来" in client.get(reverse("matters:detail", args=[matter.pk])).content.decode()


def test_a_handler_of_another_tier_is_refused_and_nothing_changes(client, login, report, people):
    matter = report()
    login(people.community_worker)
    response = client.post(reverse("matters:act", args=[matter.pk, "accept"]), {"note": ""})
    assert response.status_code == 400
    assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED
    assert Event.objects.filter(matter=matter).count() == 1


def test_a_transition_not_allowed_now_gets_a_clear_error(client, login, report, people):
    matter = report()
    login(people.compound_leader)
    response = client.post(reverse("matters:act", args=[matter.pk, "resolve"]), {"note": "修好了"})
    assert response.status_code == 400
    assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED


def test_escalating_needs_a_reason(client, login, report, people):
    matter = report()
    login(people.compound_leader)
    response = client.post(reverse("matters:act", args=[matter.pk, "escalate"]), {"reason": ""})
    assert response.status_code == 400 and Matter.objects.get(pk=matter.pk).tier == Tier.COMPOUND


def test_an_unknown_action_is_404(client, login, report, people):
    matter = report()
    login(people.compound_leader)
    assert client.post(reverse("matters:act", args=[matter.pk, "delete"])).status_code == 404


def test_the_reporter_confirms_and_rates(client, login, report, people):
    matter = report()
    services.matter_accept(matter=matter, handler=people.compound_leader)
    services.matter_resolve(matter=matter, handler=people.compound_leader, note="换了灯泡")
    login(people.resident)
    client.post(
        reverse("matters:act", args=[matter.pk, "confirm"]), {"resolved": "1", "rating": "4", "comment": "快"}
    )
    matter.refresh_from_db()
    assert matter.status == Status.CLOSED and matter.rating == 4


def test_the_queue_lists_what_waits_at_my_tier(client, login, report, people, django_assert_max_num_queries):
    report(description="院落的问题")
    report("parking", description="社区的停车问题")
    login(people.compound_leader)
    with django_assert_max_num_queries(10):
        body = client.get(reverse("matters:queue")).content.decode()
    assert "院落的问题" in body and "社区的停车问题" not in body
    for n in range(15):
        report(description=f"更多{n}")
    with django_assert_max_num_queries(10):
        client.get(reverse("matters:queue"))


def test_the_queue_is_404_for_a_resident(client, login, people):
    login(people.resident)
    assert client.get(reverse("matters:queue")).status_code == 404


def test_my_matters_lists_what_i_reported(client, login, report, people):
    report(description="我的问题")
    login(people.resident)
    assert "我的问题" in client.get(reverse("matters:mine")).content.decode()


def test_a_community_worker_sets_the_first_tier_of_a_category(client, login, people, categories):
    login(people.community_worker)
    url = reverse("matters:categories", args=[people.community.pk])
    assert client.get(url).status_code == 200
    client.post(
        url,
        {
            "code": "noise",
            "noise-first_tier": "community",
            "noise-response_amount": "1",
            "noise-response_unit": "working_days",
            "noise-resolution_amount": "5",
            "noise-resolution_unit": "working_days",
            "noise-is_active": "on",
        },
    )
    own = Category.objects.get(community=people.community, code="noise")
    assert own.first_tier == Tier.COMMUNITY and own.resolution_amount == 5


def test_an_outsider_cannot_configure_our_categories(client, login, people, categories):
    login(people.outsider)
    assert client.get(reverse("matters:categories", args=[people.community.pk])).status_code == 404


def test_a_photo_is_stored_under_a_name_nobody_can_guess(client, login, people, categories):
    login(people.resident)
    client.post(reverse("matters:report"), report_form(categories, people, photos=[jpeg("IMG_0001.jpg")]))
    stored = Matter.objects.get().photos.get().image.name
    assert "IMG_0001" not in stored and len(stored.rsplit("/", 1)[-1]) == len("0" * 32 + ".jpg")


def test_a_private_matters_photo_is_404_to_outsiders(client, login, report, people):
    matter = report("neighbour-dispute", photos=[jpeg()])
    url = matter.photos.get().get_absolute_url()
    assert client.get(url).status_code == 404
    login(people.outsider)
    assert client.get(url).status_code == 404
    login(people.resident)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private")


def test_a_public_matters_photo_is_served_to_anyone(client, report):
    matter = report(photos=[jpeg()])
    response = client.get(matter.photos.get().get_absolute_url())
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_a_grid_worker_reports_what_they_found_on_their_rounds(client, login, people, categories):
    login(people.grid_worker)
    page = client.get(reverse("matters:report")).content.decode()
    assert f'value="{people.compound.pk}"' in page and f'value="{people.other_building.pk}"' not in page
    client.post(reverse("matters:report"), report_form(categories, people, region=people.compound.pk))
    matter = Matter.objects.get()
    assert (matter.region, matter.reporter, matter.on_behalf_of) == (
        people.compound,
        people.grid_worker,
        None,
    )
