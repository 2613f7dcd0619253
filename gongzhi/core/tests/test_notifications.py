import logging

import pytest
from django.core import mail
from django.db import transaction

from conftest import make_user
from gongzhi.core.models import Notification
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.services import claim_approve, claim_submit


def test_it_delivers_to_the_inbox_only_after_commit(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify(users=[people.resident], title="诉求已受理")
        assert not Notification.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert Notification.objects.get(user=people.resident).title == "诉求已受理"


def test_nothing_is_sent_when_the_transaction_rolls_back(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notify(users=[people.resident], title="不应送达", channels=[Channel.IN_APP, Channel.SMS])
            raise RuntimeError("rolled back")
    assert callbacks == []
    assert not Notification.objects.exists()


def test_the_default_sms_backend_writes_the_message_to_the_log(
    people, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="gongzhi.sms"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notify(users=[people.resident], title="活动提醒", body="明早9点", channels=[Channel.SMS])
    assert "13800000001" in caplog.text and "活动提醒 明早9点" in caplog.text


def test_email_goes_only_to_people_with_an_address(people, django_capture_on_commit_callbacks):
    people.resident.email = "zhang@example.org"
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[people.resident, people.grid_worker], title="通知", channels=[Channel.EMAIL])
    assert [message.to for message in mail.outbox] == [["zhang@example.org"]]


def test_the_inbox_page_lists_messages_and_marks_them_read(people, login, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[people.resident], title="您的核实申请已通过")
    client = login(people.resident)
    assert "您的核实申请已通过" in client.get("/notifications/").text
    assert Notification.objects.get(user=people.resident).read_at is not None


def test_a_resident_is_told_when_their_claim_is_decided(people, django_capture_on_commit_callbacks):
    newcomer = make_user("13611112222", "赵新")
    claim = claim_submit(
        user=newcomer, building=people.building, room="1-502", name="赵新", id_number="510107195205060027"
    )
    with django_capture_on_commit_callbacks(execute=True):
        claim_approve(decided_by=people.community_worker, claim=claim)
    assert Notification.objects.get(user=newcomer).url == "/me/"
