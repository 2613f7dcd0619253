"""The points supermarket's pages: the shop, redeeming, the redemption's code, cancelling, the outlet desk,
and the outlets and items staff run."""

import itertools
import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from conftest import make_user
from gongzhi.core.crypto import mask_name
from gongzhi.core.models import Organisation, Resident
from gongzhi.volunteering import services
from gongzhi.volunteering.models import Item, Outlet, Redemption, RedemptionStatus
from gongzhi.volunteering.views.supermarket import code_groups

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    """Messages are matched in English (the msgids), on the pages as in the services."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def outlet(people):
    return services.outlet_save(
        outlet=Outlet(
            community=people.community,
            name="清波积分超市",
            kind=Outlet.Kind.OFFICE,
            address="清波社区服务中心一楼",
            opening_hours="周一至周五 9:00–17:00",
        ),
        by=people.community_worker,
    )


@pytest.fixture
def make_item(people):
    def make(outlet, name="大米", *, price=10, stock=5, **fields):
        return services.item_save(
            item=Item(outlet=outlet, name=name, price=price, stock=stock, unit="袋", **fields),
            by=people.community_worker,
        )

    return make


@pytest.fixture
def rice(outlet, make_item):
    return make_item(outlet)


@pytest.fixture
def earn(people, funded):
    """Awards the resident of 1栋 (or another resident of 清波) points out of the funded budget."""

    awards = itertools.count()

    def award(amount, resident=None):
        resident = resident or people.resident_record
        return services.points_award(
            community=people.community,
            resident=resident,
            amount=amount,
            reason="清理楼道",
            awarded_by=people.community_worker,
            idempotency_key=f"award:{next(awards)}",
        )

    return award


@pytest.fixture
def elsewhere(people):
    """吉福社区 (another district): its resident 王吉福 with an account and 20 points; its outlet and item."""
    user = make_user("13700001111", "王吉福")
    Resident.objects.filter(pk=people.other_resident_record.pk).update(user=user)
    services.budget_fund(community=people.other_community, amount=50, by=people.admin, idempotency_key="f2")
    services.points_award(
        community=people.other_community,
        resident=people.other_resident_record,
        amount=20,
        reason="义务巡逻",
        awarded_by=people.outsider,
        idempotency_key="a2",
    )
    outlet = services.outlet_save(
        outlet=Outlet(community=people.other_community, name="吉福积分超市", kind=Outlet.Kind.SHOP),
        by=people.outsider,
    )
    item = services.item_save(item=Item(outlet=outlet, name="鸡蛋", price=5, stock=10), by=people.outsider)
    redemption = services.redemption_create(
        item=item, resident=people.other_resident_record, request_token="jifu-1"
    )
    return user, outlet, item, redemption


def balance(resident) -> int:
    return services.points_account_for(resident=resident).balance


def stock(item) -> int:
    item.refresh_from_db()
    return item.stock


def redeem(client, item, *, quantity=1, token="token-1"):
    return client.post(
        reverse("volunteering:redeem", args=[item.pk]), {"quantity": quantity, "request_token": token}
    )


def reserve(people, item, *, quantity=1, token="reserved-1", resident=None):
    return services.redemption_create(
        item=item, resident=resident or people.resident_record, request_token=token, quantity=quantity
    )


def desk(client, code, action="hand_over"):
    return client.post(reverse("volunteering:outlet_desk"), {"code": code, "action": action})


# The shop and redeeming -----------------------------------------------------------------------------------


def test_it_shows_the_shop_by_outlet_with_balance_price_stock_and_limit(
    client, login, people, outlet, make_item, earn
):
    earn(30)
    make_item(outlet, "大米", price=10, stock=5, limit_per_person=2, limit_period="month")
    sold_out = make_item(outlet, "食用油", price=20, stock=0)
    plot = services.outlet_save(
        outlet=Outlet(community=people.community, name="共享菜园", kind=Outlet.Kind.PLOT),
        by=people.community_worker,
    )
    make_item(plot, "青菜", price=2, stock=30)
    login(people.resident)
    response = client.get(reverse("volunteering:shop"))
    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'data-testid="balance">Your points: <strong>30</strong>', body)
    assert body.index("共享菜园") < body.index("青菜") and body.index("清波积分超市") < body.index("大米")
    assert "2 per person per month" in body
    sold_out_card = body[body.index(f'data-testid="item-{sold_out.pk}"') :].split("</article>")[0]
    assert "Sold out" in sold_out_card and "<form" not in sold_out_card
    tokens = re.findall(r'name="request_token" value="([^"]+)"', body)
    assert len(tokens) == 2 and len(set(tokens)) == 2


def test_it_redeems_an_item_moving_points_and_stock_together(client, login, people, rice, earn):
    earn(30)
    login(people.resident)
    response = redeem(client, rice, quantity=2)
    redemption = Redemption.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("volunteering:redemption", args=[redemption.pk])
    assert (balance(people.resident_record), stock(rice)) == (10, 3)
    assert (redemption.quantity, redemption.points, redemption.status) == (2, 20, RedemptionStatus.RESERVED)


def test_a_double_submit_with_the_same_token_redeems_once(client, login, people, rice, earn):
    earn(30)
    login(people.resident)
    first = redeem(client, rice, token="same-token")
    second = redeem(client, rice, token="same-token")
    assert first["Location"] == second["Location"]
    assert Redemption.objects.count() == 1
    assert (balance(people.resident_record), stock(rice)) == (20, 4)


def test_it_refuses_a_redeem_without_enough_points_and_changes_nothing(client, login, people, rice, earn):
    earn(5)
    login(people.resident)
    response = redeem(client, rice)
    assert response.status_code == 400
    assert "Not enough points." in response.content.decode()
    assert not Redemption.objects.exists()
    assert (balance(people.resident_record), stock(rice)) == (5, 5)


def test_it_refuses_more_than_the_stock_and_more_than_the_limit(
    client, login, people, outlet, make_item, earn
):
    earn(100)
    scarce = make_item(outlet, "食用油", price=1, stock=2)
    limited = make_item(outlet, "鸡蛋", price=1, stock=50, limit_per_person=2, limit_period="week")
    login(people.resident)
    too_many = redeem(client, scarce, quantity=3)
    assert too_many.status_code == 400 and "Only 2 left." in too_many.content.decode()
    assert redeem(client, limited, quantity=2, token="t1").status_code == 302
    over = redeem(client, limited, quantity=1, token="t2")
    assert over.status_code == 400
    assert "The limit is 2 per week; you have 2 already." in over.content.decode()
    assert Redemption.objects.count() == 1
    assert (balance(people.resident_record), stock(scarce), stock(limited)) == (98, 2, 48)


def test_it_refuses_a_sold_out_item(client, login, people, outlet, make_item, earn):
    earn(30)
    sold_out = make_item(outlet, "食用油", price=5, stock=0)
    login(people.resident)
    response = redeem(client, sold_out)
    assert response.status_code == 400 and "Sold out." in response.content.decode()
    assert balance(people.resident_record) == 30


def test_it_refuses_a_redeem_without_its_token(client, login, people, rice, earn):
    earn(30)
    login(people.resident)
    response = client.post(reverse("volunteering:redeem", args=[rice.pk]), {"quantity": 1})
    assert response.status_code == 400
    assert "This request has no valid token; reload the page and try again." in response.content.decode()
    assert not Redemption.objects.exists()


def test_a_person_without_a_resident_record_is_told_the_shop_is_for_residents(client, login, people):
    login(people.community_worker)
    response = client.get(reverse("volunteering:shop"))
    assert response.status_code == 200
    assert "The points supermarket is for residents" in response.content.decode()


# The redemption's page and cancelling -------------------------------------------------------------------


def test_it_shows_the_code_as_a_qr_code_and_in_groups_with_the_outlet(client, login, people, rice, earn):
    earn(30)
    redemption = reserve(people, rice)
    login(people.resident)
    body = client.get(reverse("volunteering:redemption", args=[redemption.pk])).content.decode()
    assert "<svg" in body and 'data-testid="redemption-qr"' in body
    # A full QR code (21 modules and more, quiet zone of 4, 8 px a module), not a Micro QR code that many
    # phone scanners cannot read.
    assert int(re.search(r'<svg width="(\d+)"', body).group(1)) >= (21 + 4) * 8
    assert f"{redemption.code[:5]} {redemption.code[5:]}" in body
    assert "清波社区服务中心一楼" in body and "周一至周五 9:00–17:00" in body
    assert "Cancel this redemption" in body


def test_cancelling_gives_the_points_back_and_restores_the_stock(client, login, people, rice, earn):
    earn(30)
    redemption = reserve(people, rice, quantity=2)
    login(people.resident)
    response = client.post(reverse("volunteering:redemption_cancel", args=[redemption.pk]))
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert (balance(people.resident_record), stock(rice)) == (30, 5)
    page = client.get(reverse("volunteering:redemption", args=[redemption.pk])).content.decode()
    assert "Cancel this redemption" not in page and "<svg" not in page


def test_it_lists_the_residents_redemptions(client, login, people, rice, earn):
    earn(30)
    reserve(people, rice, token="a")
    reserve(people, rice, token="b")
    login(people.resident)
    body = client.get(reverse("volunteering:redemptions")).content.decode()
    assert body.count("大米 × 1") == 2


# The outlet desk -------------------------------------------------------------------------------------------


def test_it_hands_over_by_a_code_typed_in_lowercase_with_spaces(client, login, people, rice, earn):
    earn(30)
    redemption = reserve(people, rice, quantity=2)
    login(people.community_worker)
    typed = f" {redemption.code[:5].lower()} {redemption.code[5:].lower()} "
    response = desk(client, typed)
    body = response.content.decode()
    assert response.status_code == 200
    assert "大米 × 2" in body and re.search(r'data-testid="desk-resident">张\*民<', body)
    assert "张居民" not in body
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.HANDED_OVER
    assert redemption.handed_over_by == people.community_worker


def test_a_reused_code_says_it_was_already_collected_and_when(client, login, people, rice, earn):
    earn(30)
    redemption = reserve(people, rice)
    login(people.community_worker)
    desk(client, redemption.code)
    response = desk(client, redemption.code)
    assert response.status_code == 400
    assert "This code was already used: the item was collected on" in response.content.decode()


def test_a_forged_code_is_refused(client, login, people, rice, earn):
    earn(30)
    redemption = reserve(people, rice)
    login(people.community_worker)
    response = desk(client, "ABCDE FGHJK")
    assert response.status_code == 400
    assert "No such redemption code at your outlets." in response.content.decode()
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.RESERVED


def test_a_code_of_another_communitys_outlet_is_refused_the_same_way(
    client, login, people, outlet, elsewhere
):
    _user, _outlet, _item, redemption = elsewhere
    login(people.community_worker)
    response = desk(client, redemption.code)
    assert response.status_code == 400
    assert "No such redemption code at your outlets." in response.content.decode()
    cancel = desk(client, redemption.code, action="cancel")
    assert "No such redemption code at your outlets." in cancel.content.decode()
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.RESERVED


def test_staff_of_the_organisation_running_an_outlet_hand_over_its_items(client, login, people, earn):
    earn(30)
    run_by_agency = services.outlet_save(
        outlet=Outlet(
            community=people.community, name="社工站", kind=Outlet.Kind.PROVIDER, organisation=people.agency
        ),
        by=people.community_worker,
    )
    haircut = services.item_save(
        item=Item(outlet=run_by_agency, name="理发", price=5, stock=10), by=people.provider_staff
    )
    redemption = reserve(people, haircut)
    login(people.provider_staff)
    assert desk(client, redemption.code).status_code == 200
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.HANDED_OVER


def test_staff_cancel_a_reserved_redemption_at_the_desk(client, login, people, rice, earn):
    earn(30)
    by_code, from_list = reserve(people, rice, token="a"), reserve(people, rice, token="b")
    login(people.community_worker)
    page = client.get(reverse("volunteering:outlet_desk")).content.decode()
    assert code_groups(by_code.code) in page and code_groups(from_list.code) in page
    response = desk(client, by_code.code.lower(), action="cancel")
    assert response.status_code == 200 and "cancelled" in response.content.decode()
    client.post(reverse("volunteering:redemption_cancel", args=[from_list.pk]), {"from": "desk"})
    assert set(Redemption.objects.values_list("status", flat=True)) == {RedemptionStatus.CANCELLED}
    assert (balance(people.resident_record), stock(rice)) == (30, 5)


def test_the_desk_and_the_outlet_list_are_404_for_residents(client, login, people, outlet):
    login(people.resident)
    assert client.get(reverse("volunteering:outlet_desk")).status_code == 404
    assert client.get(reverse("volunteering:outlets")).status_code == 404


# Scope ------------------------------------------------------------------------------------------------------


def test_a_resident_of_another_community_gets_404(client, login, people, rice, earn, elsewhere):
    earn(30)
    redemption = reserve(people, rice)
    other_user, *_rest = elsewhere
    login(other_user)
    assert client.get(reverse("volunteering:item", args=[rice.pk])).status_code == 404
    assert redeem(client, rice).status_code == 404
    assert client.get(reverse("volunteering:redemption", args=[redemption.pk])).status_code == 404
    assert client.post(reverse("volunteering:redemption_cancel", args=[redemption.pk])).status_code == 404
    assert client.get(reverse("volunteering:outlet", args=[rice.outlet_id])).status_code == 404
    shop = client.get(reverse("volunteering:shop")).content.decode()
    assert "鸡蛋" in shop and "大米" not in shop
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.RESERVED


def test_a_resident_cannot_see_another_residents_redemption(client, login, people, rice, earn):
    earn(30, resident=people.neighbour_record)
    theirs = reserve(people, rice, resident=people.neighbour_record)
    login(people.resident)
    assert client.get(reverse("volunteering:redemption", args=[theirs.pk])).status_code == 404


# Outlets and items -----------------------------------------------------------------------------------------


def outlet_data(**fields):
    return {
        "action": "outlet",
        "name": "社区菜园",
        "kind": "plot",
        "organisation": "",
        "address": "清波院落东侧",
        "opening_hours": "每天 7:00–9:00",
        "is_active": "on",
        **fields,
    }


def item_data(**fields):
    return {
        "action": "item",
        "name": "西红柿",
        "description": "自家菜园种的",
        "unit": "斤",
        "price": "3",
        "stock": "40",
        "limit_per_person": "2",
        "limit_period": "day",
        "is_active": "on",
        **fields,
    }


def test_staff_add_an_outlet_run_by_an_organisation_and_its_items(client, login, people):
    login(people.community_worker)
    response = client.post(reverse("volunteering:outlets"), outlet_data(organisation=people.agency.pk))
    outlet = Outlet.objects.get()
    assert response["Location"] == reverse("volunteering:outlet", args=[outlet.pk])
    assert (outlet.community, outlet.organisation, outlet.name) == (
        people.community,
        people.agency,
        "社区菜园",
    )
    response = client.post(reverse("volunteering:outlet", args=[outlet.pk]), item_data())
    assert response.status_code == 302
    item = Item.objects.get()
    assert (item.name, item.price, item.stock, item.limit_per_person, item.limit_period) == (
        "西红柿",
        3,
        40,
        2,
        "day",
    )
    page = client.get(reverse("volunteering:outlet", args=[outlet.pk])).content.decode()
    assert "西红柿" in page and "Add to stock" in page


def test_staff_change_an_outlet(client, login, people, outlet):
    login(people.community_worker)
    response = client.post(
        reverse("volunteering:outlet", args=[outlet.pk]), outlet_data(name="清波新超市", is_active="")
    )
    assert response.status_code == 302
    outlet.refresh_from_db()
    assert (outlet.name, outlet.kind, outlet.is_active) == ("清波新超市", "plot", False)


def test_bad_outlet_input_shows_field_errors_and_changes_nothing(client, login, people, outlet):
    login(people.community_worker)
    response = client.post(reverse("volunteering:outlets"), outlet_data(name="  "))
    assert response.status_code == 400
    assert 'class="field has-error"' in response.content.decode()
    assert "This field is required." in response.content.decode()
    assert Outlet.objects.count() == 1
    edit = client.post(reverse("volunteering:outlet", args=[outlet.pk]), outlet_data(name=""))
    assert edit.status_code == 400 and "This field is required." in edit.content.decode()
    outlet.refresh_from_db()
    assert outlet.name == "清波积分超市"


def test_an_organisation_of_another_area_cannot_run_an_outlet(client, login, people, outlet):
    far_away = Organisation.objects.create(
        name="武侯社工", kind="social_work_agency", region=people.other_district
    )
    login(people.admin)  # manages every community, so chooses the community and sees every organisation
    response = client.post(
        reverse("volunteering:outlets"),
        outlet_data(community=people.community.pk, organisation=far_away.pk),
    )
    assert response.status_code == 400
    assert "This organisation does not serve that community." in response.content.decode()
    edit = client.post(
        reverse("volunteering:outlet", args=[outlet.pk]), outlet_data(organisation=far_away.pk)
    )
    assert edit.status_code == 400 and "Select a valid choice." in edit.content.decode()
    assert Outlet.objects.filter(organisation__isnull=False).count() == 0


def test_bad_item_input_shows_field_errors_and_changes_nothing(client, login, people, outlet, rice):
    login(people.community_worker)
    url = reverse("volunteering:outlet", args=[outlet.pk])
    response = client.post(url, item_data(name="", price="-5", stock="-1"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in body
    assert "The price is at least 1 point." in body and "Stock cannot be negative." in body
    zero = client.post(url, item_data(price="0"))
    assert zero.status_code == 400 and "The price is at least 1 point." in zero.content.decode()
    edit = client.post(reverse("volunteering:item", args=[rice.pk]), item_data(price="-1", stock_seen="5"))
    assert edit.status_code == 400 and "The price is at least 1 point." in edit.content.decode()
    assert list(Item.objects.values_list("name", "price")) == [("大米", 10)]


def test_restocking_adds_to_the_stock(client, login, people, rice):
    login(people.community_worker)
    response = client.post(reverse("volunteering:item_restock", args=[rice.pk]), {"add": "12"})
    assert response["Location"] == reverse("volunteering:outlet", args=[rice.outlet_id])
    assert stock(rice) == 17
    client.post(reverse("volunteering:item_restock", args=[rice.pk]), {"add": "-3"})
    assert stock(rice) == 17


def test_editing_an_item_keeps_the_redemptions_made_meanwhile(client, login, people, rice, earn):
    earn(30)
    login(people.community_worker)
    form_page = client.get(reverse("volunteering:item", args=[rice.pk])).content.decode()
    assert 'name="stock_seen" value="5"' in form_page
    reserve(people, rice, quantity=2)  # while the staff member types
    response = client.post(
        reverse("volunteering:item", args=[rice.pk]), item_data(name="东北大米", stock="8", stock_seen="5")
    )
    assert response.status_code == 302
    rice.refresh_from_db()
    assert (rice.name, rice.stock) == ("东北大米", 6)


def test_residents_see_an_outlet_but_cannot_change_it_or_its_items(client, login, people, outlet, rice):
    login(people.resident)
    page = client.get(reverse("volunteering:outlet", args=[outlet.pk])).content.decode()
    assert "大米" in page and 'data-testid="item-form"' not in page and "Add to stock" not in page
    response = client.post(reverse("volunteering:outlet", args=[outlet.pk]), outlet_data(name="我的超市"))
    assert response.status_code == 400
    assert "Only the community&#x27;s staff can manage its outlets." in response.content.decode()
    client.post(reverse("volunteering:outlet", args=[outlet.pk]), item_data())
    client.post(reverse("volunteering:item_restock", args=[rice.pk]), {"add": "100"})
    outlet.refresh_from_db()
    assert outlet.name == "清波积分超市"
    assert list(Item.objects.values_list("name", "stock")) == [("大米", 5)]


def test_staff_of_another_district_get_404_on_an_outlet_and_its_items(client, login, people, outlet, rice):
    login(people.outsider)
    assert client.get(reverse("volunteering:outlet", args=[outlet.pk])).status_code == 404
    assert client.get(reverse("volunteering:item", args=[rice.pk])).status_code == 404
    assert client.post(reverse("volunteering:item_restock", args=[rice.pk]), {"add": "9"}).status_code == 404
    assert "清波积分超市" not in client.get(reverse("volunteering:outlets")).content.decode()


# Query counts ----------------------------------------------------------------------------------------------


def test_the_shop_queries_do_not_grow_with_items(
    client, login, people, outlet, make_item, earn, django_assert_max_num_queries
):
    earn(30)
    make_item(outlet, "大米")
    login(people.resident)
    with django_assert_max_num_queries(7):
        client.get(reverse("volunteering:shop"))
    for n in range(30):
        make_item(outlet, f"商品{n}", stock=n % 3)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("volunteering:shop"))
    assert response.content.decode().count("<article") == 31


def test_the_redemption_list_queries_do_not_grow_with_rows(
    client, login, people, make_item, outlet, earn, django_assert_max_num_queries
):
    earn(100)
    cheap = make_item(outlet, "纸巾", price=1, stock=100)
    reserve(people, cheap, token="first")
    login(people.resident)
    with django_assert_max_num_queries(7):
        client.get(reverse("volunteering:redemptions"))
    for n in range(30):
        reserve(people, cheap, token=f"t{n}")
    with django_assert_max_num_queries(7):
        response = client.get(reverse("volunteering:redemptions"))
    assert response.content.decode().count("纸巾 × 1") == 20


def test_the_desk_queries_do_not_grow_with_waiting_redemptions(
    client, login, people, make_item, outlet, earn, django_assert_max_num_queries
):
    earn(40)
    earn(40, resident=people.neighbour_record)
    cheap = make_item(outlet, "纸巾", price=1, stock=100)
    reserve(people, cheap, token="first")
    login(people.community_worker)
    with django_assert_max_num_queries(8):
        client.get(reverse("volunteering:outlet_desk"))
    for n in range(30):
        reserve(people, cheap, token=f"t{n}", resident=people.neighbour_record if n % 2 else None)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("volunteering:outlet_desk"))
    body = response.content.decode()
    assert body.count("纸巾 × 1") == 31 and "李*奶" in body


def test_it_masks_names_and_groups_codes():
    assert [mask_name(name) for name in ("张居民", "李奶奶", "王五", "欧阳小明", "A")] == [
        "张*民",
        "李*奶",
        "王*",
        "欧**明",
        "*",
    ]
    assert code_groups("ABCDEFGHJK") == "ABCDE FGHJK"
