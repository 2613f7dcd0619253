"""Matters and consultations feed the needs register: a reported matter or a consultation of the community,
added by its number, as evidence of a need."""

import pytest
from django.urls import reverse
from django.utils import translation

from gongzhi.analysis import services
from gongzhi.analysis.models import EvidenceKind
from gongzhi.consultations import services as consultations
from gongzhi.consultations.models import Origin
from gongzhi.core.exceptions import ServiceError
from gongzhi.matters import services as matters
from gongzhi.matters.models import Category


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def need(people):
    return services.need_create(
        by=people.community_worker,
        community=people.community,
        title="楼道照明",
        category="safety",
        need_type="expressed",
    )


@pytest.fixture
def matter(people):
    matters.default_categories_install()
    category = Category.objects.get(community=None, code="repairs")
    return matters.matter_report(
        entered_by=people.resident, category=category, description="楼道灯坏了", region=people.building
    )


@pytest.fixture
def consultation(people):
    rules = consultations.rule_set_create(
        by=people.community_worker, region=people.community, name="日常议事规则", cosign_threshold=1
    )
    topic = consultations.consultation_propose(
        by=people.resident,
        community=people.community,
        rule_set=rules,
        title="楼道加装感应灯",
        description="1栋楼道夜间太黑。",
        origin=Origin.RESIDENT,
    )
    return topic


def test_a_matter_counts_one_person_asking(people, need, matter):
    evidence = services.evidence_add_matter(need=need, by=people.community_worker, matter_id=matter.pk)
    need.refresh_from_db()
    assert (evidence.kind, evidence.matter, evidence.count, need.people_count) == (
        EvidenceKind.MATTER,
        matter,
        1,
        1,
    )
    with pytest.raises(ServiceError, match="already evidence"):
        services.evidence_add_matter(need=need, by=people.community_worker, matter_id=matter.pk)


def test_a_consultation_counts_its_co_signers(people, need, consultation):
    evidence = services.evidence_add_consultation(
        need=need, by=people.community_worker, consultation_id=consultation.pk
    )
    assert (evidence.kind, evidence.count) == (EvidenceKind.CONSULTATION, consultation.cosigns.count())


def test_a_record_out_of_reach_or_missing_is_refused_alike(people, need, matter):
    for number in (matter.pk + 1000, "abc"):
        with pytest.raises(ServiceError, match="No such record") as caught:
            services.evidence_add_matter(need=need, by=people.community_worker, matter_id=number)
        assert caught.value.field == "matter"
    assert not need.evidence.exists()


def test_a_record_of_another_community_is_refused(people, matter):
    sibling_need = services.need_create(
        by=people.street_officer,
        community=people.sibling_community,
        title="x",
        category="safety",
        need_type="felt",
    )
    with pytest.raises(ServiceError, match="another community"):
        services.evidence_add_matter(need=sibling_need, by=people.street_officer, matter_id=matter.pk)


def test_the_page_adds_a_matter_and_shows_it(people, login, need, matter):
    client = login(people.community_worker)
    url = reverse("analysis:need_evidence_record", args=[need.pk])
    response = client.post(url, {"kind": "matter", "number": matter.pk})
    assert response.status_code == 302
    page = client.get(reverse("analysis:need", args=[need.pk])).content.decode()
    assert f"Matter #{matter.pk}" in page and "楼道灯坏了" in page
    refused = client.post(url, {"kind": "consultation", "number": 99999})
    assert refused.status_code == 400 and "No such record" in refused.content.decode()
    assert need.evidence.count() == 1


def test_a_reader_cannot_add_evidence(people, login, need, matter):
    response = login(people.district_officer).post(
        reverse("analysis:need_evidence_record", args=[need.pk]), {"kind": "matter", "number": matter.pk}
    )
    assert response.status_code == 404
    assert not need.evidence.exists()
