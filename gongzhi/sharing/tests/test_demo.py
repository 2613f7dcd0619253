"""The demo's sharing: it loads quickly, keeps the rules a booking must keep, and gives the street's
contribution report figures to show."""

import datetime

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from gongzhi.core.demo import MIN_HOUSEHOLDS, demo_district_build
from gongzhi.sharing import reports, rules
from gongzhi.sharing.demo import demo_sharing_create
from gongzhi.sharing.models import ACTIVE, Booking, Resource, Status


@pytest.fixture
def built(db):
    """The smallest demo district, with its sharing."""
    district = demo_district_build(households=MIN_HOUSEHOLDS)
    district.resources = demo_sharing_create(district)
    return district


def a_month_ago() -> int:
    return (timezone.localdate() - datetime.timedelta(days=30)).year


def test_it_lists_every_resource(built):
    assert built.resources == Resource.objects.count() == 13


def test_each_practice_is_there(built):
    kinds = set(Resource.objects.values_list("community__name", "organisation__name", "kind", "capacity"))
    assert ("清波社区", "蜀都银行成都苏坡支行", "canteen", 40) in kinds
    assert ("清波社区", "蜀都银行成都苏坡支行", "parking", 20) in kinds
    assert ("清波社区", None, "hall", 1) in kinds
    assert ("金鱼街社区", "成都市金牛区抚琴社区发展创新中心", "desk", 40) in kinds
    assert ("金鱼街社区", "成都市金牛区抚琴社区发展创新中心", "hot_seat", 50) in kinds
    spaces = Resource.objects.filter(community__name="吉福社区", kind="parking", capacity=1)
    assert spaces.count() == 6
    night = Resource.objects.get(kind="parking", capacity=20).hours.first()
    assert (f"{night.opens:%H:%M}", f"{night.closes:%H:%M}") == ("19:00", "08:00")


def test_the_history_keeps_the_rules(built):
    for resource in Resource.objects.all():
        held = list(
            Booking.objects.filter(resource=resource, status__in=ACTIVE).values_list(
                "starts_at", "blocked_until", "party_size"
            )
        )
        for start, end, _places in held:
            assert rules.peak_occupancy((start, end), held) <= resource.capacity
    assert not Booking.objects.filter(Q(resident=None) & Q(organisation=None)).exists()


def test_there_is_history_and_there_are_bookings_to_come(built):
    now = timezone.now()
    assert Booking.objects.filter(ends_at__lt=now, status=Status.CHECKED_IN).count() > 500
    upcoming = Booking.objects.filter(starts_at__gt=now)
    assert upcoming.filter(booked_by=built.users["resident"], resource__kind="parking").exists()
    assert upcoming.filter(status=Status.PENDING, resource__kind="hall").exists()
    assert upcoming.filter(organisation=built.organisations["agency"], resource__kind="desk").exists()


def test_the_streets_report_shows_what_the_bank_and_the_community_opened(built):
    report = reports.contribution_report(region=built.places["supo"], year=a_month_ago())
    assert report.total.opened > 0 and report.total.booked > 0 and report.total.residents > 0
    assert 0 < report.total.utilisation < 100
    assert [ranked.owner.name for ranked in report.by_opened] == ["蜀都银行成都苏坡支行"]
    assert {line.kind for line in report.kinds} == {"canteen", "parking", "gym", "hall", "activity_room"}
    assert report.total.organisations > 0  # the hall is booked by organisations too


def test_the_street_officer_sees_the_figures_on_the_page(built, client):
    client.force_login(built.users["street_officer"])
    response = client.get(reverse("sharing:report"), {"year": a_month_ago()})
    assert response.status_code == 200
    assert response.context["scope"] == built.places["supo"]
    assert response.context["report"].total.booked > 0


def test_the_innovation_centre_serves_organisations(built):
    centre = built.organisations["innovation_centre"]
    report = reports.contribution_report(organisation=centre, year=a_month_ago())
    desks = next(line for line in report.lines if line.kind == "desk")
    assert desks.total.organisations > 0 and desks.total.booked > 0
