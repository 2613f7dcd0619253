"""Shared personas: one small district tree with a person at every level, and an outsider next door.

成都市 ─ 青羊区 ─ 苏坡街道 ─ 清波社区 ─ 网格1 ─ 清波院落 ─ 1栋 / 2栋
                          └ 东坡社区 (a sibling community)
       └ 武侯区 ─ 晋阳街道 ─ 吉福社区 ─ 1栋            (the outsider's district)
"""

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import caches

from gongzhi.core.models import Organisation, Region, Resident, RoleAssignment, User
from gongzhi.core.roles import Role
from gongzhi.core.services import region_create, resident_create

VALID_ID_NUMBERS = ["11010519491231002X", "110101199003074477", "440524198001010013", "510107195205060027"]
VALID_CREDIT_CODES = ["91350100M000100Y43", "91110108551385082Q", "52510000MJ0000000X"]
PASSWORD = "gongzhi-test-pass"


def pytest_configure():
    # Argon2 is deliberately slow; tests create many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = False


@dataclass
class Personas:
    city: Region
    district: Region
    street: Region
    community: Region
    sibling_community: Region
    grid: Region
    compound: Region
    building: Region
    building_2: Region
    other_district: Region
    other_community: Region
    other_building: Region
    agency: Organisation
    work_unit: Organisation
    resident: User
    resident_record: Resident
    neighbour_record: Resident
    other_resident_record: Resident
    building_leader: User
    compound_leader: User
    grid_worker: User
    community_worker: User
    community_secretary: User
    street_officer: User
    district_officer: User
    provider_staff: User
    work_unit_staff: User
    outsider: User
    admin: User


def make_user(mobile: str, name: str, **fields) -> User:
    return User.objects.create_user(mobile, PASSWORD, name=name, **fields)


def grant(
    user: User, role: str, *, region: Region | None = None, organisation: Organisation | None = None
) -> None:
    RoleAssignment.objects.create(user=user, role=role, region=region, organisation=organisation)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with empty caches: cached figures, rate limits or roster pages must not leak between
    tests (SQLite reuses the keys a rolled-back test used)."""
    for cache in caches.all():
        cache.clear()


@pytest.fixture
def people(db) -> Personas:
    city = region_create(parent=None, name="成都市", level="city")
    district = region_create(parent=city, name="青羊区", level="district")
    street = region_create(parent=district, name="苏坡街道", level="street")
    community = region_create(parent=street, name="清波社区", level="community")
    sibling = region_create(parent=street, name="东坡社区", level="community")
    grid = region_create(parent=community, name="第一网格", level="grid")
    compound = region_create(parent=grid, name="清波院落", level="compound")
    building = region_create(parent=compound, name="1栋", level="building")
    building_2 = region_create(parent=compound, name="2栋", level="building")
    other_district = region_create(parent=city, name="武侯区", level="district")
    other_street = region_create(parent=other_district, name="晋阳街道", level="street")
    other_community = region_create(parent=other_street, name="吉福社区", level="community")
    other_building = region_create(parent=other_community, name="吉福1栋", level="building")

    admin = make_user("13900000000", "管理员", is_staff=True, is_superuser=True)
    agency = Organisation.objects.create(
        name="青羊社工中心", kind="social_work_agency", region=street, credit_code=VALID_CREDIT_CODES[2]
    )
    work_unit = Organisation.objects.create(
        name="蜀都银行", kind="work_unit", region=community, credit_code=VALID_CREDIT_CODES[0]
    )

    def staff(mobile, name, role, region=None, organisation=None):
        user = make_user(mobile, name)
        grant(user, role, region=region, organisation=organisation)
        return user

    resident = make_user("13800000001", "张居民")
    resident_record = resident_create(
        created_by=admin,
        region=building,
        name="张居民",
        id_number=VALID_ID_NUMBERS[1],
        phone="13800000001",
        room="1-101",
    )
    Resident.objects.filter(pk=resident_record.pk).update(user=resident)
    neighbour = resident_create(
        created_by=admin,
        region=building_2,
        name="李奶奶",
        id_number=VALID_ID_NUMBERS[0],
        phone="13912345678",
        room="2-201",
        tags=["elderly", "living_alone", "low_income"],
    )
    other_record = resident_create(
        created_by=admin,
        region=other_building,
        name="王吉福",
        id_number=VALID_ID_NUMBERS[2],
        phone="13700001111",
        room="1-1",
    )

    return Personas(
        city=city,
        district=district,
        street=street,
        community=community,
        sibling_community=sibling,
        grid=grid,
        compound=compound,
        building=building,
        building_2=building_2,
        other_district=other_district,
        other_community=other_community,
        other_building=other_building,
        agency=agency,
        work_unit=work_unit,
        resident=resident,
        resident_record=resident_record,
        neighbour_record=neighbour,
        other_resident_record=other_record,
        building_leader=staff("13800000002", "楼栋长", Role.BUILDING_LEADER, region=building),
        compound_leader=staff("13800000003", "院落长", Role.COMPOUND_LEADER, region=compound),
        grid_worker=staff("13800000004", "网格员", Role.GRID_WORKER, region=grid),
        community_worker=staff("13800000005", "社区工作者", Role.COMMUNITY_WORKER, region=community),
        community_secretary=staff("13800000006", "社区书记", Role.COMMUNITY_SECRETARY, region=community),
        street_officer=staff("13800000007", "街道干部", Role.STREET_OFFICER, region=street),
        district_officer=staff("13800000008", "区干部", Role.DISTRICT_OFFICER, region=district),
        provider_staff=staff("13800000009", "社工", Role.PROVIDER_STAFF, organisation=agency),
        work_unit_staff=staff("13800000010", "单位职工", Role.WORK_UNIT_STAFF, organisation=work_unit),
        outsider=staff("13800000011", "外区工作者", Role.COMMUNITY_WORKER, region=other_community),
        admin=admin,
    )


@pytest.fixture
def login(client):
    """Signs the test client in as a persona: `login(people.community_worker)`."""

    def sign_in(user: User):
        client.force_login(user)
        return client

    return sign_in
