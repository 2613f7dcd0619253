"""/ping is the load benchmark's floor: the full middleware stack, the session and the user, nothing else."""

from django.urls import reverse


def test_it_loads_the_session_and_the_user_and_reads_nothing_else(login, people, django_assert_num_queries):
    client = login(people.community_worker)
    with django_assert_num_queries(2):  # the session, then the signed-in user
        response = client.get(reverse("ping"))
    assert response.json() == {"status": "ok", "signed_in": True}
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_an_anonymous_caller_without_a_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("ping"))
    assert response.json() == {"status": "ok", "signed_in": False}
