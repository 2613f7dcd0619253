"""The volunteer certificate: the PDF itself, who may download it, and the public check of its number."""

import base64
import datetime
import re
import zlib
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from gongzhi.core.crypto import mask_name
from gongzhi.core.models import AuditEvent
from gongzhi.volunteering import services
from gongzhi.volunteering.certificates import certificate_pdf, content_lines
from gongzhi.volunteering.models import Certificate
from gongzhi.volunteering.tests.test_record_pages import link_account, name_signers, serve

MISSING = "ZYZM-2000-NOSUCHNO"


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def certificate(people, activity):
    """A certificate of 张居民's two verified hours at the stairwell clean-up, asked for by himself."""
    serve(people, activity)
    name_signers(people)
    volunteer = services.volunteer_profile_for(resident=people.resident_record)
    return services.certificate_issue(volunteer=volunteer, by=people.resident)


def _unescape(literal: bytes) -> bytes:
    """The bytes of a PDF string literal: backslash escapes, octal codes included."""
    out, i = bytearray(), 0
    simple = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    while i < len(literal):
        char = literal[i : i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        following = literal[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            i += 1 + len(octal.group())
        else:
            out += simple.get(following, following)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text drawn on the pages, read without a PDF library: each stream is inflated (ReportLab writes
    ASCII85 then Flate), and each string shown is read both as Latin (Helvetica) and as UCS-2 (the CJK
    font)."""
    shown = []
    for body in re.findall(rb"\bstream\r?\n(.*?)endstream", data, re.S):
        body = body.strip()
        try:
            if body.endswith(b"~>"):
                body = base64.a85decode(body[:-2].replace(b"\n", b""))
            body = zlib.decompress(body)
        except (ValueError, zlib.error):
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body, re.S):
            raw = _unescape(literal)
            shown.append(raw.decode("latin-1"))
            if len(raw) % 2 == 0:
                shown.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(shown)


# The PDF ------------------------------------------------------------------------------------------------


def test_it_is_a_pdf_with_every_field_the_rules_ask_for(people, certificate):
    data = certificate_pdf(certificate, verify_url="https://gongzhi.example/v?number=" + certificate.number)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for field in (
        certificate.number,
        "张居民",
        certificate.id_number_masked,
        certificate.volunteer_number,
        "清理楼道",
        "清波社区",
        "王主任",
        "李干事",
        "028-87654321",
        timezone.localtime(certificate.issued_at).date().isoformat(),
    ):
        assert field in text, field
    assert "https://gongzhi.example/v?number=" + certificate.number in text


def test_it_never_carries_the_full_id_number(people, certificate):
    text = pdf_text(certificate_pdf(certificate, verify_url="https://gongzhi.example/v"))
    assert "110101199003074477" not in text
    assert certificate.id_number_masked == "110***********4477"


def test_a_long_record_flows_onto_more_pages(people, certificate):
    certificate.content = "\n".join(
        f"2024-01-{day % 28 + 1:02d} 活动{day} (清波社区) 1.00" for day in range(120)
    )
    data = certificate_pdf(certificate, verify_url="https://gongzhi.example/v")
    assert len(re.findall(rb"/Type /Page(?!s)", data)) > 1
    assert "活动119" in pdf_text(data)


def test_it_reads_the_content_snapshot_as_dated_lines():
    certificate = Certificate(
        content="2025-03-01 清理楼道 (清波社区) 2.00\n\n2025-04-02 陪伴 老人 (青羊社工中心) 1.50"
    )
    assert content_lines(certificate) == [
        ("2025-03-01", "清理楼道 (清波社区)", "2.00"),
        ("2025-04-02", "陪伴 老人 (青羊社工中心)", "1.50"),
    ]


@pytest.mark.parametrize(
    ("name", "masked"), [("张居民", "张*民"), ("张三", "张*"), ("欧阳小华", "欧**华"), ("王", "*"), ("", "")]
)
def test_it_masks_names_like_the_verification_page_shows_them(name, masked):
    assert mask_name(name) == masked


# Who may download it ------------------------------------------------------------------------------------


def pdf_url(certificate) -> str:
    return reverse("volunteering:certificate_pdf", args=[certificate.number])


def test_the_volunteer_downloads_their_certificate(people, login, certificate):
    response = login(people.resident).get(pdf_url(certificate))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    body = response.content
    assert body.startswith(b"%PDF-") and certificate.number in pdf_text(body)
    verify = (
        "http://testserver" + reverse("volunteering:certificate_verify") + "?number=" + certificate.number
    )
    assert verify in pdf_text(body)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_staff_over_the_volunteer_download_it_and_are_audited(people, login, certificate):
    for staff in (people.community_worker, people.street_officer):
        response = login(staff).get(pdf_url(certificate))
        assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    exports = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, target_id=str(certificate.pk))
    assert sorted(exports.values_list("actor__name", flat=True)) == ["社区工作者", "街道干部"]


@pytest.mark.parametrize("who", ["neighbour", "outsider", "provider_staff"])
def test_anyone_else_gets_404_for_the_pdf(people, login, certificate, who):
    user = (
        link_account(people.neighbour_record, "13900000099") if who == "neighbour" else getattr(people, who)
    )
    assert login(user).get(pdf_url(certificate)).status_code == 404


def test_an_unknown_certificate_number_is_404(people, login, certificate):
    response = login(people.resident).get(reverse("volunteering:certificate_pdf", args=[MISSING]))
    assert response.status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(client, certificate):
    response = client.get(pdf_url(certificate))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# Public verification ------------------------------------------------------------------------------------


def verify(client, number):
    return client.get(reverse("volunteering:certificate_verify"), {"number": number})


def test_anyone_checks_a_certificate_without_signing_in(client, people, certificate):
    response = verify(client, certificate.number.lower())
    page = response.text
    assert response.status_code == 200
    assert 'data-testid="certificate-valid"' in page
    for shown in ("张*民", certificate.volunteer_number, "清波社区", "王主任", "028-87654321"):
        assert shown in page
    assert '<dd data-testid="certified-hours">2</dd>' in page


def test_the_check_never_shows_the_id_number_or_full_name(client, people, certificate):
    page = verify(client, certificate.number).text
    assert "张居民" not in page
    assert certificate.id_number_masked not in page and "4477" not in page


def test_a_wrong_number_says_there_is_no_such_certificate(client, people, certificate):
    response = verify(client, MISSING)
    assert response.status_code == 404
    assert "No such certificate" in response.text and "certificate-valid" not in response.text


def test_the_check_page_without_a_number_asks_for_one(client, db):
    response = client.get(reverse("volunteering:certificate_verify"))
    assert response.status_code == 200 and "No such certificate" not in response.text


def test_the_certificate_shows_what_was_certified_even_after_more_service(people, certificate, activity):
    later = timezone.localtime(activity.starts_at) + datetime.timedelta(days=3)
    again = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="陪伴老人",
        place="活动室",
        starts_at=later,
        ends_at=later + datetime.timedelta(hours=3),
        points=0,
        capacity=5,
    )
    serve(people, services.activity_open(activity=again, by=people.community_worker))
    certificate.refresh_from_db()
    assert certificate.hours == Decimal("2.00") and certificate.activities == 1


def test_it_refuses_a_certificate_while_the_community_names_no_signers(people, login, activity):
    serve(people, activity)
    response = login(people.resident).post(reverse("volunteering:me"), {"action": "certificate"})
    assert response.status_code == 400
    assert "has not yet named who signs its certificates" in response.text
    assert not Certificate.objects.exists()


def test_a_building_leader_without_volunteering_rights_gets_404(people, login, certificate):
    assert login(people.building_leader).get(pdf_url(certificate)).status_code == 404
