"""The demo district that `manage.py seed_demo` loads, and the generators of valid identifiers that the
benchmark's city-scale generator shares.

The district follows the report the product comes from (China Social News, 2019-11-20): 清波社区 in
青羊区苏坡街道 (小事不出院落,大事不出社区), 吉福社区 in 武侯区晋阳街道 (2,300 minority residents, 114
outsourced services) and 金鱼街社区 in 金牛区抚琴街道 (an old neighbourhood of street-named 院落).
Everything is drawn from one seeded `random.Random`, so the same accounts, names and rooms come back on
every run; only birth years follow the calendar, so that ages stay true.
"""

import datetime
import math
import random
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.core.models import (
    Household,
    Notification,
    Organisation,
    OrganisationKind,
    Region,
    Resident,
    ResidentInvitation,
    ResidentTag,
    User,
)
from gongzhi.core.roles import Role
from gongzhi.core.services import (
    CONSENT_PURPOSES,
    INVITATION_ALPHABET,
    INVITATION_VALID_DAYS,
    claim_submit,
    consent_record,
    organisation_create,
    region_create,
    role_grant,
)
from gongzhi.core.validators import CREDIT_CODE_ALPHABET, credit_code_check_char, id_number_check_char

DEMO_PASSWORD = "gongzhi2026"
DEMO_SEED = 2019  # the year of the report
DEFAULT_HOUSEHOLDS = 300  # per community
MIN_HOUSEHOLDS = 10  # room for the demo people's own households

Tag = ResidentTag.Tag

# ---------------------------------------------------------------------------------------------------------
# Identifiers. Small public functions: the benchmark's generator imports them.
# ---------------------------------------------------------------------------------------------------------

# Mainland mobile number segments in wide use (China Mobile, China Unicom, China Telecom).
MOBILE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "178",
    "182", "183", "187", "188", "198", "130", "131", "132", "155", "156", "166", "175", "176", "185",
    "186", "133", "153", "173", "177", "180", "181", "189", "199",
)

# GB 32100 positions 1-2 (registration authority and category) for each kind of organisation.
CREDIT_CODE_PREFIXES = {
    OrganisationKind.RESIDENTS_COMMITTEE: "55",  # civil affairs (5), residents' committee (5)
    OrganisationKind.PARTY_COMMITTEE: "11",  # staffing authority (1), organ (1)
    OrganisationKind.STREET_OFFICE: "11",
    OrganisationKind.SOCIAL_ORGANISATION: "51",  # civil affairs, social group
    OrganisationKind.SOCIAL_WORK_AGENCY: "52",  # civil affairs, private non-enterprise unit
    OrganisationKind.FOUNDATION: "53",
    OrganisationKind.SOCIAL_ENTERPRISE: "91",  # market regulation (9), enterprise (1)
    OrganisationKind.WORK_UNIT: "91",
    OrganisationKind.PROPERTY_COMPANY: "91",
    OrganisationKind.BUSINESS: "92",  # individual business
    OrganisationKind.OWNERS_COMMITTEE: "Y1",  # other authorities, one category
    "public_institution": "12",  # staffing authority, public institution (a public hospital or school)
}

# GB 11714 (organisation code, GB 32100 positions 9-17): weights of the 8 body characters.
ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def fake_mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number that passes validate_mobile."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def fake_id_number(rng: random.Random, region_code: str, birth_date: datetime.date, sex: str) -> str:
    """A resident identity card number per GB 11643: area code, birth date, a sequence whose last digit is
    odd for men ("M") and even for women ("F"), and the check character."""
    sequence = rng.randrange(1 if sex == "M" else 2, 1000, 2)
    first17 = f"{region_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_char(first17)


def organisation_code_check_char(body: str) -> str:
    """GB 11714: the check character of an 8-character organisation code body (digits and A-Z)."""
    value = 11 - sum(int(c, 36) * w for c, w in zip(body, ORGANISATION_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def fake_credit_code(rng: random.Random, kind: str, region_code: str = "510100") -> str:
    """A unified social credit code per GB 32100 for an organisation of `kind` (an OrganisationKind value,
    or "public_institution") registered in `region_code`; both check characters are right."""
    prefix = CREDIT_CODE_PREFIXES[kind]
    if prefix[0] == "9":  # codes issued since 2015 by market regulation start "MA"
        body = "MA" + "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(6))
    elif prefix[0] == "5":  # ... and by civil affairs "MJ"
        body = "MJ" + f"{rng.randrange(10**6):06d}"
    else:
        body = f"{rng.randrange(10**8):08d}"
    first17 = f"{prefix}{region_code}{body}{organisation_code_check_char(body)}"
    return first17 + credit_code_check_char(first17)


# ---------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------

# The common surnames, the most common repeated so that they come up as often as in Sichuan.
SURNAMES = (
    "王王王李李李张张张刘刘刘陈陈陈杨杨黄黄赵吴周周徐孙马朱胡郭何何林罗罗高郑梁谢谢宋唐唐许韩冯邓邓"
    "曹彭曾曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢钟谭廖向雷汪龙付蒲税敬文"
)

# Given names by sex and the decade they were popular in.
GIVEN_NAMES = {
    ("M", 1930): "建国 国强 德明 志华 永福 长春 明华 光荣 文彬 家才 树林 德成 学文 正清 天明 玉林 福田 绍云",
    ("F", 1930): "秀英 桂兰 玉兰 淑芬 秀珍 凤英 桂芳 素华 玉珍 淑华 翠英 琼芳 秀琼 素琴 德珍 树芬 惠芳 菊英",
    ("M", 1960): "建平 志强 伟 勇 军 斌 刚 明 涛 国华 红军 卫东 建军 小平 永红 学军 建华 跃进 建成 德华",
    ("F", 1960): "丽 红 梅 英 燕 琴 霞 丽华 红梅 晓红 春燕 小琴 玉梅 建英 秀梅 红英 丽萍 华琼 晓琴",
    ("M", 1980): "磊 鹏 浩 杰 超 鑫 强 亮 宇 俊 健 毅 辉 文杰 晓东 俊杰 志鹏 洋 川 林峰 宏宇 云飞",
    ("F", 1980): "婷 静 敏 丹 雪 娟 倩 颖 琳 晓燕 佳 雪梅 蕾 璐 洁 莉 小雨 思思 媛媛 露",
    ("M", 2000): "浩然 子轩 宇轩 梓豪 俊熙 浩宇 一鸣 天佑 子墨 沐阳 皓轩 奕辰 铭泽 锦程 宇航 博文",
    ("F", 2000): "梓涵 欣怡 子涵 一诺 诗涵 雨桐 可馨 语桐 若汐 梓萱 思琪 欣妍 佳怡 芷若 雨欣 可可",
}

# Yi family names and given names from Liangshan (吉福社区 has many residents from there).
YI_SURNAMES = ("吉克", "阿苏", "沙马", "马海", "曲比", "海来", "吉木", "阿的", "俄底", "勒格")
YI_GIVEN_NAMES = {"M": ("拉哈", "木呷", "曲布", "布哈", "阿木", "石者", "日火", "尔古"),
                  "F": ("阿依", "阿呷", "阿果", "依作", "阿支", "莫色", "尔嫫", "伍各")}


def _name_era(birth_year: int) -> int:
    return max(era for era in (1930, 1960, 1980, 2000) if era <= max(birth_year, 1930))


def fake_surname(rng: random.Random) -> str:
    return rng.choice(SURNAMES)


def fake_name(rng: random.Random, sex: str, birth_year: int, surname: str | None = None) -> str:
    """A realistic Chinese name for a person of `sex` ("M"/"F") born in `birth_year`."""
    return (surname or fake_surname(rng)) + rng.choice(GIVEN_NAMES[(sex, _name_era(birth_year))].split())


def fake_birth_date(rng: random.Random, age: int, today: datetime.date) -> datetime.date:
    """A birth date for someone who is `age` (whole years) on `today`."""
    birthday_this_year = datetime.date(2001, 1, 1) + datetime.timedelta(days=rng.randrange(365))
    born = datetime.date(today.year - age, birthday_this_year.month, birthday_this_year.day)
    return born if born <= today else born.replace(year=born.year - 1)


# ---------------------------------------------------------------------------------------------------------
# The district
# ---------------------------------------------------------------------------------------------------------

# Other areas people on a Chengdu roster were registered in (GB/T 2260): the rest of Chengdu and Sichuan.
CHENGDU_AREA_CODES = ("510104", "510105", "510106", "510107", "510108", "510112", "510114", "510115",
                      "510116", "510117", "510121", "510181", "510182", "510184")
SICHUAN_AREA_CODES = ("510302", "510502", "510603", "510703", "511002", "511102", "511302", "511502",
                      "511602", "511702")
LIANGSHAN_AREA_CODES = ("513401", "513429", "513431", "513436")  # 西昌, 布拖, 昭觉, 美姑


@dataclass(frozen=True)
class BuildingStyle:
    units: tuple[int, int]
    floors: tuple[int, int]
    rooms_per_floor: tuple[int, int]


# Every style has at least 2 units, 6 floors and 2 rooms a floor: the demo people's rooms need them.
STYLES = {
    "relocation": BuildingStyle(units=(2, 2), floors=(11, 18), rooms_per_floor=(2, 3)),  # 安置小区 high-rise
    "estate": BuildingStyle(units=(2, 3), floors=(7, 11), rooms_per_floor=(2, 3)),
    "walk_up": BuildingStyle(units=(2, 4), floors=(6, 7), rooms_per_floor=(2, 2)),  # 1980s 院落
}


@dataclass(frozen=True)
class CommunitySpec:
    district: str
    area_code: str
    street: str
    name: str
    grids: tuple[tuple[str, tuple[str, ...]], ...]
    style: str
    minority_share: float


DISTRICT = (
    CommunitySpec("青羊区", "510105", "苏坡街道", "清波社区", style="relocation", minority_share=0.01, grids=(
        ("第一网格", ("清波苑一期", "清波苑二期")),
        ("第二网格", ("清江翠苑", "苏坡锦苑")),
        ("第三网格", ("金沙雅居", "清波新居")),
    )),
    CommunitySpec("武侯区", "510107", "晋阳街道", "吉福社区", style="estate", minority_share=0.12, grids=(
        ("第一网格", ("吉福苑", "晋阳新居")),
        ("第二网格", ("吉福花园", "锦城丽景")),
    )),
    CommunitySpec("金牛区", "510106", "抚琴街道", "金鱼街社区", style="walk_up", minority_share=0.01, grids=(
        ("第一网格", ("金鱼街院落", "营和街院落")),
        ("第二网格", ("营通街院落", "营兴街院落")),
        ("第三网格", ("营福巷院落", "营康巷院落")),
    )),
)


@dataclass(frozen=True)
class DemoPerson:
    """Someone the README names: an account holder, or a resident the demo needs by name."""

    key: str
    name: str
    mobile: str  # "" for the resident who has no phone and no account yet
    role: str  # a Role value, or "resident" / "claimant" / "admin" / "invitee"
    scope: str  # where the role holds (a key of DemoDistrict.places)
    sex: str = ""
    birth_date: datetime.date | None = None
    room: str = ""  # for residents: their room in 清波苑一期 1栋


DEMO_PEOPLE = (
    DemoPerson("admin", "孙浩", "13900000000", "admin", ""),
    DemoPerson("resident", "周建平", "13900000001", "resident", "qingbo",
               sex="M", birth_date=datetime.date(1976, 5, 12), room="2-401"),
    DemoPerson("building_leader", "王秀兰", "13900000002", Role.BUILDING_LEADER, "qingbo.building",
               sex="F", birth_date=datetime.date(1958, 3, 8), room="1-201"),
    DemoPerson("compound_leader", "刘德明", "13900000003", Role.COMPOUND_LEADER, "qingbo.compound",
               sex="M", birth_date=datetime.date(1955, 10, 1), room="1-502"),
    DemoPerson("grid_worker", "杨雪", "13900000004", Role.GRID_WORKER, "qingbo.grid"),
    DemoPerson("community_worker", "张丽", "13900000005", Role.COMMUNITY_WORKER, "qingbo"),
    DemoPerson("community_secretary", "何静", "13900000006", Role.COMMUNITY_SECRETARY, "qingbo"),
    DemoPerson("street_officer", "罗斌", "13900000007", Role.STREET_OFFICER, "supo"),
    DemoPerson("district_officer", "黄志刚", "13900000008", Role.DISTRICT_OFFICER, "qingyang"),
    DemoPerson("provider_staff", "吴佳", "13900000009", Role.PROVIDER_STAFF, "agency"),
    DemoPerson("work_unit_staff", "赵磊", "13900000010", Role.WORK_UNIT_STAFF, "bank"),
    DemoPerson("claimant", "李晓燕", "13900000011", "claimant", "qingbo",
               sex="F", birth_date=datetime.date(1991, 7, 23), room="2-602"),
    DemoPerson("invitee", "谢桂芳", "", "invitee", "qingbo",
               sex="F", birth_date=datetime.date(1938, 12, 2), room="1-101"),
)
DEMO_ACCOUNTS = tuple(person for person in DEMO_PEOPLE if person.mobile)

ROLE_LABELS = {
    "admin": gettext_lazy("Administrator"),
    "resident": gettext_lazy("Resident"),
    "claimant": gettext_lazy("Resident awaiting verification"),
    **{role.value: role.label for role in Role},
}


# Organisations besides each community's residents' committee and each street's office, all serving 清波:
# (key, name, kind, place, kind of credit code).
ORGANISATIONS = (
    ("agency", "成都市青羊区清源社会工作服务中心", OrganisationKind.SOCIAL_WORK_AGENCY, "qingbo",
     OrganisationKind.SOCIAL_WORK_AGENCY),
    ("enterprise", "成都清波邻里社区服务有限公司", OrganisationKind.SOCIAL_ENTERPRISE, "qingbo",
     OrganisationKind.SOCIAL_ENTERPRISE),
    ("bank", "蜀都银行成都苏坡支行", OrganisationKind.WORK_UNIT, "qingbo", OrganisationKind.WORK_UNIT),
    ("hospital", "成都市青羊区清波医院", OrganisationKind.WORK_UNIT, "qingbo", "public_institution"),
    ("property", "成都锦诚物业服务有限公司", OrganisationKind.PROPERTY_COMPANY, "qingbo",
     OrganisationKind.PROPERTY_COMPANY),
)


# ---------------------------------------------------------------------------------------------------------
# Planning: pure, in memory, from the seeded generator
# ---------------------------------------------------------------------------------------------------------


@dataclass
class PersonPlan:
    name: str
    sex: str
    birth_date: datetime.date
    id_number: str
    phone: str
    is_household_head: bool
    tags: set[str] = field(default_factory=set)
    key: str = ""  # a DemoPerson key for the people the demo needs by name


@dataclass
class HouseholdPlan:
    building: tuple[int, int]  # (compound index, building index) in the community
    room: str
    members: list[PersonPlan]


@dataclass
class CommunityPlan:
    spec: CommunitySpec
    buildings: list[list[str]]  # building names per compound
    households: list[HouseholdPlan]


class _Draw:
    """The generator plus what must stay unique across the district (ID numbers, phone numbers)."""

    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng = rng
        self.today = today
        self.id_numbers: set[str] = set()
        self.phones: set[str] = {person.mobile for person in DEMO_PEOPLE if person.mobile}

    def id_number(self, area_code: str, birth_date: datetime.date, sex: str) -> str:
        while (number := fake_id_number(self.rng, area_code, birth_date, sex)) in self.id_numbers:
            pass
        self.id_numbers.add(number)
        return number

    def phone(self) -> str:
        while (number := fake_mobile(self.rng)) in self.phones:
            pass
        self.phones.add(number)
        return number


# Names follow the fashion of the year a person was born in, counted from this year rather than today's:
# otherwise every name would change whenever someone's birth year crossed into another decade.
NAMES_YEAR = 2026


def _age(birth_date: datetime.date, today: datetime.date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def _family_shape(rng: random.Random) -> list[tuple[str, int, str]]:
    """Members as (sex, age, relation); the first is the head of household. Relations: "head",
    "head_spouse", "child", "spouse" (of the head or of the head's son), "grandchild"."""
    roll = rng.random()
    if roll < 0.09:  # an elderly person living alone
        return [(rng.choice("FFM"), rng.randint(70, 94), "head")]
    if roll < 0.22:  # an elderly couple
        age = rng.randint(62, 88)
        return [("M", age, "head"), ("F", max(60, age - rng.randint(0, 5)), "spouse")]
    if roll < 0.54:  # parents and children
        age = rng.randint(30, 52)
        members = [("M", age, "head"), ("F", age - rng.randint(-2, 4), "spouse")]
        for _child in range(rng.choice((1, 1, 1, 2))):
            members.append((rng.choice("MF"), rng.randint(0, min(17, age - 23)), "child"))
        return members
    if roll < 0.74:  # three generations
        age = rng.randint(32, 46)
        grandparent = age + rng.randint(24, 32)
        members = [("M", grandparent, "head"), ("M", age, "child"), ("F", age - rng.randint(-2, 4), "spouse"),
                   (rng.choice("MF"), rng.randint(0, min(15, age - 24)), "grandchild")]
        if rng.random() < 0.6:
            members.insert(1, ("F", grandparent - rng.randint(0, 4), "head_spouse"))
        return members
    if roll < 0.88:  # a young couple
        age = rng.randint(24, 38)
        return [("M", age, "head"), ("F", age - rng.randint(-2, 4), "spouse")]
    return [(rng.choice("MF"), rng.randint(20, 58), "head")]


def _plan_household(draw: _Draw, spec: CommunitySpec, *, minority: bool) -> list[PersonPlan]:
    rng, today = draw.rng, draw.today
    shape = _family_shape(rng)
    family_name = rng.choice(YI_SURNAMES) if minority else fake_surname(rng)
    low_income = rng.random() < 0.05
    members = []
    for sex, age, relation in shape:
        birth_date = fake_birth_date(rng, age, today)
        # The head, the head's son and the grandchildren carry the family name; wives keep their own.
        surname = family_name if relation in ("head", "child", "grandchild") else None
        if minority:
            surname = surname or rng.choice(YI_SURNAMES)
            name = surname + rng.choice(YI_GIVEN_NAMES[sex])
        else:
            name = fake_name(rng, sex, NAMES_YEAR - age, surname)
        if minority:
            area_code = spec.area_code if age < 15 else rng.choice(LIANGSHAN_AREA_CODES)
        elif age < 18 or rng.random() < 0.55:
            area_code = spec.area_code
        else:
            area_code = rng.choice(CHENGDU_AREA_CODES if rng.random() < 0.7 else SICHUAN_AREA_CODES)
        person = PersonPlan(
            name=name, sex=sex, birth_date=birth_date, id_number=draw.id_number(area_code, birth_date, sex),
            phone="", is_household_head=relation == "head",
        )
        has_phone = rng.random()
        if (18 <= age < 75 and has_phone < 0.95) or (age >= 75 and has_phone < 0.45):
            person.phone = draw.phone()
        person.tags = _tags(
            rng, person, today, alone=len(shape) == 1, minority=minority, low_income=low_income
        )
        members.append(person)
    return members


def _tags(rng, person: PersonPlan, today, *, alone: bool, minority: bool, low_income: bool) -> set[str]:
    age = _age(person.birth_date, today)
    # Draw the same number of times whatever the age, so that the district stays the same as the demo
    # people (whose birth dates are fixed) grow older.
    health, disability, veteran = rng.random(), rng.random(), rng.random()
    tags = set()
    if age >= 60:
        tags.add(Tag.ELDERLY)
        if alone:
            tags.add(Tag.LIVING_ALONE)
        if health < 0.15:
            tags.add(Tag.HEALTH)
    if age < 18:
        tags.add(Tag.CHILD)
    if disability < 0.03:
        tags.add(Tag.DISABILITY)
    if person.sex == "M" and age >= 45 and veteran < 0.04:
        tags.add(Tag.VETERAN)
    if low_income:
        tags.add(Tag.LOW_INCOME)
    if minority:
        tags.add(Tag.MINORITY)
    return tags


def _plan_person_household(draw: _Draw, spec: CommunitySpec, person: DemoPerson) -> list[PersonPlan]:
    """The household of a resident the demo needs by name, built around that person."""
    rng, today = draw.rng, draw.today
    me = PersonPlan(
        name=person.name, sex=person.sex, birth_date=person.birth_date,
        id_number=draw.id_number(spec.area_code, person.birth_date, person.sex),
        phone=person.mobile, is_household_head=True, key=person.key,
    )
    me.tags = _tags(rng, me, today, alone=person.key == "invitee", minority=False,
                    low_income=False)
    if person.key == "invitee":  # living alone
        return [me]
    partner_sex = "F" if person.sex == "M" else "M"
    partner_birth = person.birth_date + datetime.timedelta(days=rng.randint(-900, 900))
    partner_surname = fake_surname(rng)
    partner = PersonPlan(
        name=fake_name(rng, partner_sex, partner_birth.year, partner_surname), sex=partner_sex,
        birth_date=partner_birth,
        id_number=draw.id_number(rng.choice(CHENGDU_AREA_CODES), partner_birth, partner_sex),
        phone=draw.phone(), is_household_head=False,
    )
    partner.tags = _tags(rng, partner, today, alone=False, minority=False, low_income=False)
    members = [me, partner]
    if person.sex == "F":  # a wife: her husband heads the household and the child carries his name
        me.is_household_head, partner.is_household_head = False, True
        members.reverse()
    family_name = person.name[0] if person.sex == "M" else partner_surname
    if person.birth_date.year >= 1965:  # of an age to have a child at school
        child_age = rng.randint(6, 16)
        child_birth = fake_birth_date(rng, child_age, today)
        child_sex = rng.choice("MF")
        child = PersonPlan(
            name=fake_name(rng, child_sex, NAMES_YEAR - child_age, family_name), sex=child_sex,
            birth_date=child_birth, id_number=draw.id_number(spec.area_code, child_birth, child_sex),
            phone="", is_household_head=False, tags={Tag.CHILD},
        )
        members.append(child)
    return members


def _building_rooms(style: BuildingStyle, rng: random.Random) -> list[str]:
    units = rng.randint(*style.units)
    floors = rng.randint(*style.floors)
    per_floor = rng.randint(*style.rooms_per_floor)
    return [f"{unit}-{floor}{room:02d}" for unit in range(1, units + 1) for floor in range(1, floors + 1)
            for room in range(1, per_floor + 1)]


def _room_order(room: str) -> tuple[int, ...]:
    """"2-401" before "2-1001"."""
    return tuple(int(part) for part in room.split("-"))


def _plan_community(
    draw: _Draw, spec: CommunitySpec, households: int, people: list[DemoPerson]
) -> CommunityPlan:
    """Buildings enough for `households` at about 80% occupancy (at least two a compound), then the
    households in randomly chosen rooms; `people` live in the first building of the first compound."""
    rng = draw.rng
    style = STYLES[spec.style]
    compounds = [name for _grid, names in spec.grids for name in names]
    rooms: list[list[list[str]]] = [[] for _ in compounds]
    capacity, target = 0, math.ceil(households / 0.8)
    index = 0
    while capacity < target or any(len(buildings) < 2 for buildings in rooms):
        building_rooms = _building_rooms(style, rng)
        rooms[index % len(compounds)].append(building_rooms)
        capacity += len(building_rooms)
        index += 1

    pinned = {person.room: person for person in people}
    free = [(c, b, room) for c, buildings in enumerate(rooms) for b, building_rooms in enumerate(buildings)
            for room in building_rooms if not (c == 0 and b == 0 and room in pinned)]
    chosen = rng.sample(free, households - len(pinned))
    chosen.sort(key=lambda slot: (slot[0], slot[1], _room_order(slot[2])))
    minority_rooms = {slot for slot in chosen if rng.random() < spec.minority_share}

    plans = [HouseholdPlan(building=(0, 0), room=room, members=_plan_person_household(draw, spec, person))
             for room, person in pinned.items()]
    plans += [HouseholdPlan(building=(c, b), room=room,
                            members=_plan_household(draw, spec, minority=(c, b, room) in minority_rooms))
              for c, b, room in chosen]
    plans.sort(key=lambda plan: (plan.building, _room_order(plan.room)))
    buildings = [[f"{n}栋" for n in range(1, len(compound_rooms) + 1)] for compound_rooms in rooms]
    return CommunityPlan(spec=spec, buildings=buildings, households=plans)


def plan_district(*, households: int = DEFAULT_HOUSEHOLDS, seed: int = DEMO_SEED,
                  today: datetime.date | None = None) -> list[CommunityPlan]:
    """The whole district in memory; the same seed gives the same district."""
    if households < MIN_HOUSEHOLDS:
        raise ValueError(f"households must be at least {MIN_HOUSEHOLDS}")
    draw = _Draw(random.Random(seed), today or timezone.localdate())
    residents_in_qingbo = [person for person in DEMO_PEOPLE if person.room]
    return [_plan_community(draw, spec, households, residents_in_qingbo if n == 0 else [])
            for n, spec in enumerate(DISTRICT)]


# ---------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------


@dataclass
class DemoDistrict:
    """What was built: the named places, organisations and accounts, for the command's table and the tests."""

    places: dict[str, Region] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    invitation: ResidentInvitation | None = None
    communities: int = 0
    households: int = 0
    resident_count: int = 0


@transaction.atomic
def demo_district_build(*, households: int = DEFAULT_HOUSEHOLDS, seed: int = DEMO_SEED) -> DemoDistrict:
    """Builds the demo district into the database in one transaction."""
    plans = plan_district(households=households, seed=seed)
    rng = random.Random(seed + 1)  # identifiers of organisations and the invitation code
    built = DemoDistrict()
    admin = _accounts_create(built)
    buildings = _regions_create(built, plans)
    _organisations_create(built, admin, rng)
    for person in DEMO_PEOPLE:
        if person.role in Role.values:
            scope = built.organisations.get(person.scope) or built.places[person.scope]
            kind = "organisation" if isinstance(scope, Organisation) else "region"
            role_grant(granted_by=admin, user=built.users[person.key], role=person.role, **{kind: scope})
    _roster_create(built, plans, buildings)
    _claim_and_invitation_create(built, rng)
    _notifications_create(built)
    return built


def _accounts_create(built: DemoDistrict) -> User:
    # Argon2 takes a fifth of a second a hash; one hash of the one demo password serves every account.
    password = make_password(DEMO_PASSWORD)
    users = []
    for person in DEMO_ACCOUNTS:
        user = User(name=person.name, password=password, is_staff=person.key == "admin",
                    is_superuser=person.key == "admin")
        user.set_mobile(person.mobile)
        users.append(user)
    User.objects.bulk_create(users)
    for person, user in zip(DEMO_ACCOUNTS, users, strict=True):
        built.users[person.key] = user
        for purpose in CONSENT_PURPOSES:
            consent_record(user=user, purpose=purpose)
    return built.users["admin"]


def _regions_create(built: DemoDistrict, plans: list[CommunityPlan]) -> dict[tuple[int, int, int], Region]:
    """The region tree; returns the buildings by (community, compound, building) index."""
    city = region_create(parent=None, name="成都市", level=Region.Level.CITY)
    districts: dict[str, Region] = {}
    buildings = {}
    for n, plan in enumerate(plans):
        spec = plan.spec
        if spec.district not in districts:
            districts[spec.district] = region_create(
                parent=city, name=spec.district, level=Region.Level.DISTRICT
            )
        street = region_create(parent=districts[spec.district], name=spec.street, level=Region.Level.STREET)
        community = region_create(parent=street, name=spec.name, level=Region.Level.COMMUNITY)
        built.places[f"street.{n}"] = street
        built.places[f"community.{n}"] = community
        compound_index = 0
        for grid_name, compound_names in spec.grids:
            grid = region_create(parent=community, name=grid_name, level=Region.Level.GRID)
            built.places.setdefault(f"grid.{n}", grid)
            for compound_name in compound_names:
                compound = region_create(parent=grid, name=compound_name, level=Region.Level.COMPOUND)
                built.places.setdefault(f"compound.{n}", compound)
                for b, building_name in enumerate(plan.buildings[compound_index]):
                    buildings[n, compound_index, b] = region_create(
                        parent=compound, name=building_name, level=Region.Level.BUILDING
                    )
                compound_index += 1
    built.places.update(
        qingyang=districts["青羊区"], supo=built.places["street.0"], qingbo=built.places["community.0"],
        **{"qingbo.grid": built.places["grid.0"], "qingbo.compound": built.places["compound.0"],
           "qingbo.building": buildings[0, 0, 0]},
    )
    built.communities = len(plans)
    return buildings


def _organisations_create(built: DemoDistrict, admin: User, rng: random.Random) -> None:
    for n, spec in enumerate(DISTRICT):
        district_prefix = f"成都市{spec.district}"
        for key, name, kind, place in (
            (f"committee.{n}", f"{district_prefix}{spec.street}{spec.name}居民委员会",
             OrganisationKind.RESIDENTS_COMMITTEE, f"community.{n}"),
            (f"street_office.{n}", f"{district_prefix}人民政府{spec.street}办事处",
             OrganisationKind.STREET_OFFICE, f"street.{n}"),
        ):
            built.organisations[key] = organisation_create(
                created_by=admin, name=name, kind=kind, region=built.places[place],
                credit_code=fake_credit_code(rng, kind, spec.area_code),
            )
    for key, name, kind, place, code_kind in ORGANISATIONS:
        built.organisations[key] = organisation_create(
            created_by=admin, name=name, kind=kind, region=built.places[place],
            credit_code=fake_credit_code(rng, code_kind, DISTRICT[0].area_code),
            contact_phone=f"028-{rng.choice('68')}{rng.randrange(10**7):07d}",  # Chengdu landlines
        )


def _roster_create(built: DemoDistrict, plans: list[CommunityPlan], buildings: dict) -> None:
    now = timezone.now()
    households, members = [], []
    for n, plan in enumerate(plans):
        community = built.places[f"community.{n}"]
        for household_plan in plan.households:
            building = buildings[(n, *household_plan.building)]
            households.append(Household(community=community, region=building, number=household_plan.room))
            members.append((community, building, household_plan.members))
    Household.objects.bulk_create(households, batch_size=500)

    residents, tags = [], []
    for household, (community, building, people) in zip(households, members, strict=True):
        for person in people:
            resident = Resident(
                community=community, region=building, household=household, name=person.name, sex=person.sex,
                birth_date=person.birth_date, is_household_head=person.is_household_head,
            )
            resident.set_id_number(person.id_number)
            resident.set_phone(person.phone)
            user = built.users.get(person.key)
            if user is not None and person.key != "claimant":  # the claimant waits for the community
                resident.user, resident.verified_at = user, now
            if person.key:
                built.residents[person.key] = resident
            residents.append(resident)
            tags.extend((resident, tag) for tag in sorted(person.tags))
    Resident.objects.bulk_create(residents, batch_size=500)
    ResidentTag.objects.bulk_create([ResidentTag(resident=resident, tag=tag) for resident, tag in tags],
                                    batch_size=1000)
    built.households, built.resident_count = len(households), len(residents)


def _claim_and_invitation_create(built: DemoDistrict, rng: random.Random) -> None:
    claimant = built.residents["claimant"]
    claim_submit(user=built.users["claimant"], building=claimant.region, room=claimant.household.number,
                 name=claimant.name, id_number=claimant.id_number)
    built.invitation = ResidentInvitation.objects.create(
        resident=built.residents["invitee"],
        code="".join(rng.choice(INVITATION_ALPHABET) for _ in range(8)),
        created_by=built.users["community_worker"],
        expires_at=timezone.now() + datetime.timedelta(days=INVITATION_VALID_DAYS),
    )


def _notifications_create(built: DemoDistrict) -> None:
    claimant, invitee = built.residents["claimant"], built.residents["invitee"]
    Notification.objects.bulk_create([
        Notification(
            user=built.users["resident"], title=_("Welcome to Gongzhi"),
            body=_("Your account is linked to your household on the community roster."), url=reverse("me"),
        ),
        Notification(
            user=built.users["community_worker"], title=_("A resident is waiting for verification"),
            body=_("%(name)s asks to be linked to room %(room)s.") % {
                "name": claimant.name, "room": claimant.household.number},
            url=reverse("workbench-claims"),
        ),
        Notification(
            user=built.users["building_leader"], title=_("A neighbour may need a hand"),
            body=_("%(name)s in room %(room)s has an invitation code; help her sign up.") % {
                "name": invitee.name, "room": invitee.household.number},
            url=reverse("workbench-resident", args=[invitee.pk]),
        ),
    ])


def demo_area(built: DemoDistrict, key: str) -> str:
    """Where a demo person's role holds (for a plain resident, their home), as a reader would say it."""
    person = next(person for person in DEMO_PEOPLE if person.key == key)
    if person.key == "admin":
        return _("everywhere")
    if person.room and person.role not in Role.values:  # a resident without a role: their home
        return f"{region_label(built.residents[key].region)} {person.room}"
    if person.scope in built.organisations:
        return built.organisations[person.scope].name
    return region_label(built.places[person.scope])


def region_label(place: Region) -> str:
    """A region as a reader would say it: "苏坡街道", or below a community "清波社区 清波苑一期 1栋"
    (the community, the compound, the place; grids are skipped unless they are the place)."""
    if place.level not in (Region.Level.GRID, Region.Level.COMPOUND, Region.Level.BUILDING):
        return place.name
    ancestors = Region.objects.filter(
        pk__in=place.ancestor_ids(), level__in=[Region.Level.COMMUNITY, Region.Level.COMPOUND]
    ).exclude(pk=place.pk)
    return " ".join([*(region.name for region in ancestors.order_by("depth")), place.name])
