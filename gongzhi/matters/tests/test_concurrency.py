"""Two handlers accepting the same matter at the same moment, on PostgreSQL: each in its own thread, its own
connection and its own transaction. The row lock in matter_accept lets one win; the other is told."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import translation

from conftest import grant, make_user
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import User
from gongzhi.core.roles import Role
from gongzhi.matters import services
from gongzhi.matters.models import Event, Matter, Status

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks (SELECT ... FOR UPDATE) are tested on PostgreSQL"
)

TIMEOUT = 30


@pytest.mark.django_db(transaction=True)
def test_two_handlers_accepting_at_once_one_wins_and_the_other_is_told(people, report):
    second_leader = make_user("13800000030", "副院落长")
    grant(second_leader, Role.COMPOUND_LEADER, region=people.compound)
    matter = report("repairs")
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    outcomes: dict[int, object] = {}

    def accept(handler_id: int) -> None:
        try:
            handler = User.objects.get(pk=handler_id)
            # The active language is per thread: the refusal is matched in English below.
            with translation.override("en"), transaction.atomic():
                # Read inside the transaction first, so that both have begun before either locks the row.
                assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED
                barrier.wait()
                services.matter_accept(matter=matter, handler=handler)
            outcomes[handler_id] = "accepted"
        except Exception as error:
            # A ServiceError is the expected loser; anything else fails the assertions below. Either way,
            # a thread that fails before the barrier must not leave the other waiting.
            outcomes[handler_id] = error
            barrier.abort()
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=accept, args=(handler.pk,))
        for handler in (people.compound_leader, second_leader)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)

    winners = [pk for pk, outcome in outcomes.items() if outcome == "accepted"]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, ServiceError)]
    assert len(outcomes) == 2, outcomes
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert "already been accepted" in str(losers[0].message)

    matter.refresh_from_db()
    assert matter.status == Status.ACCEPTED
    accepted = Event.objects.filter(matter=matter, kind=Event.Kind.ACCEPTED)
    assert accepted.count() == 1
    assert accepted.get().actor_id == winners[0]
