import pytest

from gongzhi.core.models import AuditEvent, Region, User
from gongzhi.core.services import audit_record

ADMIN_PAGES = [
    "user",
    "region",
    "organisation",
    "resident",
    "household",
    "auditevent",
    "consent",
    "residentclaim",
    "apitoken",
]


@pytest.mark.parametrize("model", ADMIN_PAGES)
def test_admin_lists_every_spine_model_without_personal_data_in_clear(people, login, model):
    response = login(people.admin).get(f"/admin/core/{model}/")
    assert response.status_code == 200
    assert "13912345678" not in response.text and "11010519491231002X" not in response.text


def test_staff_without_admin_rights_are_sent_to_the_admin_login(people, login):
    response = login(people.community_secretary).get("/admin/core/resident/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admins_filter_the_audit_log_by_action(people, login):
    audit_record(
        actor=people.community_secretary, action=AuditEvent.Action.UNMASK, target=people.neighbour_record
    )
    audit_record(actor=people.community_worker, action=AuditEvent.Action.EXPORT)
    response = login(people.admin).get("/admin/core/auditevent/?action=unmask")
    assert response.context["cl"].result_count == 1


def test_the_audit_log_cannot_be_edited_from_the_admin(people, login):
    event = audit_record(actor=people.admin, action=AuditEvent.Action.EXPORT)
    client = login(people.admin)
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_an_admin_creates_a_user_by_mobile_number(people, login):
    client = login(people.admin)
    response = client.post(
        "/admin/core/user/add/",
        {
            "mobile": "13655556666",
            "name": "新同事",
            "password1": "Zq8!longpass",
            "password2": "Zq8!longpass",
        },
    )
    assert response.status_code == 302
    assert User.objects.get_by_natural_key("13655556666").mobile_masked == "136****6666"


def test_an_admin_adds_a_region_with_its_materialised_path(people, login):
    response = login(people.admin).post(
        "/admin/core/region/add/", {"name": "3栋", "level": "building", "parent": people.compound.pk}
    )
    assert response.status_code == 302
    building = Region.objects.get(name="3栋")
    assert (
        building.path == f"{people.compound.path}{building.pk}/"
        and building.depth == people.compound.depth + 1
    )
