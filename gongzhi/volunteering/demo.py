"""Demo volunteering: three months of activities in each demo community, with sign-ups, check-ins, verified
hours paid in points, the points supermarket and what was spent there.

Everything goes through the services, each given the moment it happens (`now=`), so that the ledger is the
one the platform itself would have written: every point comes out of a community's funded award budget, and
every balance is the sum of its entries. The ledger's own timestamps are those of the run, since ledger_post
records the moment it posts. A seeded generator picks the volunteers, so each run tells the same story.

The demo resident 周建平 ends with points, verified hours, a place at an activity next week and a box of eggs
waiting to be collected, so that every page of the volunteering app has something to show.
"""

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from gongzhi.core.demo import DemoDistrict, fake_name
from gongzhi.core.models import Organisation, Region, Resident, User
from gongzhi.core.workdays import years_before
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    Activity,
    Item,
    LimitPeriod,
    Outlet,
    PointsAccount,
    PointsRule,
    RecordNote,
    Redemption,
    RiskLevel,
    SignUp,
    SignUpStatus,
    VolunteerProfile,
)

DEMO_SEED = 2026
BUDGET = 5_000  # points each community sets aside for awards
VOLUNTEER_AGES = (16, 75)  # who the demo signs up
INSURANCE_POLICY = "志愿者团体意外险 PICC-2026-0088"


@dataclass(frozen=True)
class PastActivity:
    title: str
    place: str  # "{compound}" is replaced by the community's first compound
    days_ago: int
    hour: int
    hours: int
    capacity: int
    points: int
    rule: str = PointsRule.PER_HOUR
    risk: str = RiskLevel.LOW
    min_age: int = 0
    by_agency: bool = False  # run by the social-work agency (清波社区 only)
    cancelled: str = ""  # the reason, for one called off
    description: str = ""
    open_to_everyone: bool = False


# Oldest first. The last one ended two days ago and waits for its hours to be verified.
# fmt: off
PAST = (
    PastActivity("楼道清洁日", "{compound}各楼栋", 84, 9, 2, 10, 10,
                 description="清理楼道堆放杂物，擦洗扶手。"),
    PastActivity("垃圾分类引导", "{compound}垃圾分类点", 75, 7, 2, 8, 10,
                 description="早高峰指导居民分类投放。"),
    PastActivity("关爱独居老人探访", "社区各院落", 66, 14, 3, 8, 10, by_agency=True,
                 description="两人一组上门陪伴聊天，了解老人需求。"),
    PastActivity("社区菜地劳动", "社区菜地", 56, 8, 3, 12, 30, rule=PointsRule.FIXED,
                 description="翻地、播种、浇水，收获的青菜放进积分超市。"),
    PastActivity("消防安全巡查", "{compound}", 45, 19, 2, 6, 15, risk=RiskLevel.MEDIUM, min_age=18,
                 description="检查消防通道和楼道电动车充电，登记隐患。"),
    PastActivity("户外健步走引导", "社区广场", 40, 8, 2, 10, 10,
                 cancelled="天气预报有大雨，活动取消，改期另行通知。"),
    PastActivity("儿童暑期托管", "社区活动室", 34, 9, 3, 6, 10,
                 description="陪伴孩子写作业、做手工。"),
    PastActivity("文明交通劝导", "社区主路口", 20, 7, 2, 8, 10,
                 description="劝导电动车戴头盔、不闯红灯。"),
    PastActivity("长者生日会", "社区活动室", 9, 14, 2, 10, 20, rule=PointsRule.FIXED,
                 description="为本月过生日的老人布置场地、分蛋糕。"),
    PastActivity("院落环境整治", "{compound}", 2, 9, 3, 10, 10,
                 description="清理绿化带垃圾，修剪枝叶。"),
)
# fmt: on


@dataclass(frozen=True)
class UpcomingActivity:
    title: str
    place: str
    in_days: int
    hour: int
    hours: int
    capacity: int
    signups: int  # more than the capacity: the rest wait
    points: int
    rule: str = PointsRule.PER_HOUR
    risk: str = RiskLevel.LOW
    min_age: int = 0
    by_agency: bool = False
    open_to_everyone: bool = False
    description: str = ""


# fmt: off
UPCOMING = (
    # Nearly full; the demo resident has one of its places.
    UpcomingActivity("周末楼道清洁", "{compound}各楼栋", 3, 9, 2, 10, 9, 10,
                     description="清理楼道杂物。"),
    # Full, with two on the waiting list.
    UpcomingActivity("助餐送餐到户", "社区长者食堂", 5, 11, 2, 6, 8, 10,
                     description="把午餐送到行动不便的老人家中。"),
    UpcomingActivity("高层消防通道清理", "{compound}", 8, 15, 3, 12, 4, 15, risk=RiskLevel.MEDIUM, min_age=18,
                     description="搬离消防通道杂物，需要一定体力。已为志愿者购买意外险。"),
    UpcomingActivity("社区义诊志愿服务", "社区广场", 12, 9, 3, 8, 2, 30, rule=PointsRule.FIXED,
                     by_agency=True, open_to_everyone=True, description="协助医生维持秩序、登记、引导老人。"),
)
# fmt: on


@dataclass(frozen=True)
class ItemSpec:
    name: str
    unit: str
    price: int
    stock: int
    limit: int | None = None
    period: str = LimitPeriod.MONTH
    description: str = ""


# (kind, name, opening hours, run by the demo's social enterprise, items)
# fmt: off
OUTLETS = (
    (Outlet.Kind.OFFICE, "社区办公室", "周一至周五 9:00–17:00", False, (
        ItemSpec("鸡蛋", "盒", 20, 40, 1, LimitPeriod.WEEK, "土鸡蛋 10 枚"),
        ItemSpec("洗衣液", "瓶", 50, 20, 1, LimitPeriod.MONTH, "2 公斤装"),
        ItemSpec("毛巾", "条", 15, 30),
    )),
    (Outlet.Kind.PLOT, "社区菜地", "周三、周六 8:00–10:00", False, (
        ItemSpec("青菜", "把", 5, 30, 2, LimitPeriod.WEEK, "志愿者种的，当天采摘"),
        ItemSpec("萝卜", "根", 5, 25, 2, LimitPeriod.WEEK),
        ItemSpec("小葱", "把", 2, 20),
    )),
    (Outlet.Kind.SHOP, "邻里小店", "每天 8:00–20:00", True, (
        ItemSpec("理发券", "张", 30, 15, 1, LimitPeriod.MONTH, "小店旁理发室使用"),
        ItemSpec("大米", "袋", 80, 10, description="5 斤装"),
        ItemSpec("酱油", "瓶", 25, 20),
    )),
)
# fmt: on


@dataclass
class _Community:
    region: Region
    compound: str
    organiser: User  # community staff who run activities, verify hours and the outlets
    secretary: User  # who funds the budget and names the certificate signers
    agency: Organisation | None
    agency_staff: User | None
    enterprise: Organisation | None
    volunteers: list[Resident]  # the pool, the demo's named residents first
    named: dict[str, Resident] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    activities: int = 0


def demo_volunteering_create(built: DemoDistrict, *, seed: int = DEMO_SEED) -> int:
    """Volunteering in every demo community; returns how many activities were published."""
    rng = random.Random(seed)
    now = timezone.now()
    made = 0
    for community in _communities(built, now):
        _settings(community, rng, is_qingbo=bool(community.named))
        services.budget_fund(
            community=community.region,
            amount=BUDGET,
            by=community.secretary,
            idempotency_key=f"demo:fund:{community.region.pk}",
            now=now - datetime.timedelta(days=90),
        )
        for plan in PAST:
            _past_activity(community, plan, rng, now)
        _record_notes(community, rng, now)
        _awards(community, rng, now)
        for plan in UPCOMING:
            _upcoming_activity(community, plan, rng, now)
        _supermarket(community, rng, now)
        _honour_roll(community)
        made += community.activities
    # The periodic task would have marked whoever had a place and never came.
    services.no_shows_mark(now=now)
    return made


def _communities(built: DemoDistrict, now: datetime.datetime) -> list[_Community]:
    """清波社区 has the demo's staff, agency and shop; the other two are run by the administrator."""
    communities = []
    for n in range(built.communities):
        region = built.places[f"community.{n}"]
        is_qingbo = n == 0
        named = {}
        if is_qingbo:
            named = {
                key: Resident.objects.get(pk=built.residents[key].pk)
                for key in ("resident", "building_leader", "compound_leader")
            }
        communities.append(
            _Community(
                region=region,
                compound=built.places[f"compound.{n}"].name,
                organiser=built.users["community_worker" if is_qingbo else "admin"],
                secretary=built.users["community_secretary" if is_qingbo else "admin"],
                agency=built.organisations["agency"] if is_qingbo else None,
                agency_staff=built.users["provider_staff"] if is_qingbo else None,
                enterprise=built.organisations["enterprise"] if is_qingbo else None,
                volunteers=_pool(region, named, now),
                named=named,
            )
        )
    return communities


def _pool(community: Region, named: dict[str, Resident], now: datetime.datetime) -> list[Resident]:
    today = timezone.localtime(now).date()
    youngest = years_before(today, VOLUNTEER_AGES[0])
    oldest = years_before(today, VOLUNTEER_AGES[1] + 1)
    others = Resident.objects.filter(
        community=community, birth_date__lte=youngest, birth_date__gt=oldest
    ).exclude(pk__in=[resident.pk for resident in named.values()])
    return [*named.values(), *others.select_related("region", "user").order_by("pk")[:60]]


def _settings(community: _Community, rng: random.Random, *, is_qingbo: bool) -> None:
    if is_qingbo:
        person_in_charge, handler = community.secretary.name, community.organiser.name
    else:
        person_in_charge = fake_name(rng, rng.choice("MF"), 1970)
        handler = fake_name(rng, rng.choice("MF"), 1985)
    services.settings_update(
        community=community.region,
        by=community.secretary,
        points_expire_after_years=2 if is_qingbo else None,
        person_in_charge=person_in_charge,
        handler_name=handler,
        handler_contact=f"028-8{rng.randrange(10**6, 10**7)}",
    )


def _at(now: datetime.datetime, days: int, hour: int) -> datetime.datetime:
    """`hour` o'clock, `days` from today (negative: ago), in local time."""
    day = timezone.localtime(now) + datetime.timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def _eligible(community: _Community, min_age: int, start: datetime.datetime) -> list[Resident]:
    if not min_age:
        return list(community.volunteers)
    born_by = years_before(timezone.localtime(start).date(), min_age)
    return [r for r in community.volunteers if r.birth_date and r.birth_date <= born_by]


def _create(
    community: _Community, plan, *, start: datetime.datetime, created: datetime.datetime
) -> tuple[Activity, User]:
    by_agency = plan.by_agency and community.agency is not None
    organiser = community.agency_staff if by_agency else community.organiser
    activity = services.activity_create(
        created_by=organiser,
        region=community.region,
        organisation=community.agency if by_agency else None,
        now=created,
        title=plan.title,
        description=plan.description,
        place=plan.place.format(compound=community.compound),
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=plan.hours),
        cancel_deadline=start - datetime.timedelta(hours=12),
        capacity=plan.capacity,
        min_age=plan.min_age,
        risk_level=plan.risk,
        points_rule=plan.rule,
        points=plan.points,
        open_to_everyone=plan.open_to_everyone,
    )
    if plan.risk != RiskLevel.LOW:
        activity = services.activity_confirm_insurance(
            activity=activity, by=organiser, policy=INSURANCE_POLICY
        )
    activity = services.activity_open(activity=activity, by=organiser, now=created)
    community.activities += 1
    return activity, organiser


def _sign_up(
    community: _Community,
    activity: Activity,
    people: list[Resident],
    rng: random.Random,
    *,
    opened: datetime.datetime,
    closes: datetime.datetime,
) -> list[SignUp]:
    """Signs `people` up in order, at times spread between the opening and `closes`."""
    span = (closes - opened).total_seconds()
    moments = sorted(opened + datetime.timedelta(seconds=rng.uniform(0.05, 0.95) * span) for _ in people)
    return [
        services.signup_create(activity=activity, resident=resident, now=moment)
        for resident, moment in zip(people, moments, strict=True)
    ]


def _past_activity(community: _Community, plan: PastActivity, rng: random.Random, now: datetime.datetime):
    start = _at(now, -plan.days_ago, plan.hour)
    opened = start - datetime.timedelta(days=10)
    activity, organiser = _create(community, plan, start=start, created=opened)
    eligible = _eligible(community, plan.min_age, start)
    named = [r for key, r in community.named.items() if key != "resident" or _resident_joins(plan)]
    named = [r for r in named if r in eligible]
    others = [r for r in eligible if r not in named]
    wanted = min(len(eligible), plan.capacity - rng.randint(0, 2))
    if plan.cancelled:  # only residents without accounts had signed up: nobody is notified in the demo
        people = [r for r in others if r.user_id is None][: max(1, wanted // 2)]
    else:
        people = (named + rng.sample(others, k=min(len(others), max(0, wanted - len(named)))))[:wanted]
    signups = _sign_up(
        community, activity, people, rng, opened=opened, closes=start - datetime.timedelta(days=1)
    )
    if plan.cancelled:
        services.activity_cancel(
            activity=activity, by=organiser, reason=plan.cancelled, now=start - datetime.timedelta(days=1)
        )
        return
    # One withdraws in good time: after everyone signed up, before the deadline twelve hours ahead.
    if len(signups) > 3:
        quitter = signups.pop(rng.randrange(len(named), len(signups)))
        services.signup_cancel(
            signup=quitter, by=organiser, now=start - datetime.timedelta(hours=rng.randint(13, 23))
        )
    verified_at = start + datetime.timedelta(hours=plan.hours, days=1)
    verify = plan is not PAST[-1]  # the last one waits for the organiser
    for signup in signups:
        if signup.status != SignUpStatus.CONFIRMED:
            continue
        is_named = signup.volunteer.resident_id in {r.pk for r in named}
        if not is_named and rng.random() < 0.1:
            services.attendance_mark(
                signup=signup, by=organiser, action="no_show", now=start + datetime.timedelta(hours=1)
            )
            continue
        signup = _attend(activity, signup, organiser, rng, start=start, hours=plan.hours)
        if verify:
            moment = verified_at + datetime.timedelta(minutes=rng.randint(0, 90))
            _verify(signup, organiser, rng, moment=moment, as_recorded=is_named)


def _resident_joins(plan: PastActivity) -> bool:
    """The demo resident, who works, comes at weekends and evenings: most of the activities, not all."""
    return plan.title in {"楼道清洁日", "社区菜地劳动", "消防安全巡查", "文明交通劝导", "院落环境整治"}


def _attend(
    activity: Activity, signup: SignUp, organiser: User, rng: random.Random, *, start, hours: int
) -> SignUp:
    """Checks in (the volunteer scans the activity's code, or the organiser scans theirs or ticks them off)
    and, mostly, out: some arrive late or leave early; some forget to check out."""
    arrived = start + datetime.timedelta(minutes=rng.choice([-15, -10, -5, -5, 0, 5, 25]))
    resident = signup.volunteer.resident
    if resident.user_id is not None and rng.random() < 0.8:
        code = services.activity_code(activity, now=arrived)
        signup = services.checkin_by_activity_code(
            activity=activity, resident=resident, code=code, now=arrived
        )
    elif rng.random() < 0.5:
        signup = services.checkin_by_personal_code(
            activity=activity, token=signup.volunteer.qr_token, by=organiser, now=arrived
        )
    else:
        signup = services.attendance_mark(signup=signup, by=organiser, action="check_in", now=arrived)
    roll = rng.random()
    if roll < 0.1:
        return signup  # never checked out: the planned end counts
    end = start + datetime.timedelta(hours=hours)
    left = (
        end - datetime.timedelta(minutes=45)
        if roll < 0.2
        else end + datetime.timedelta(minutes=rng.randint(0, 10))
    )
    return services.attendance_mark(signup=signup, by=organiser, action="check_out", now=left)


def _verify(
    signup: SignUp, organiser: User, rng: random.Random, *, moment: datetime.datetime, as_recorded: bool
) -> None:
    """Mostly approved as recorded; now and then adjusted or rejected, with the reason."""
    roll = 1.0 if as_recorded else rng.random()
    if roll < 0.04:
        services.hours_verify(
            signup=signup,
            by=organiser,
            decision="reject",
            reason="签到后未参加服务，经核实不予认定",
            now=moment,
        )
    elif roll < 0.12:
        services.hours_verify(
            signup=signup,
            by=organiser,
            decision="adjust",
            hours=Decimal("1.5"),
            reason="提前离开，按实际服务时长认定",
            now=moment,
        )
    else:
        services.hours_verify(signup=signup, by=organiser, decision="approve", now=moment)


def _upcoming_activity(
    community: _Community, plan: UpcomingActivity, rng: random.Random, now: datetime.datetime
) -> None:
    start = _at(now, plan.in_days, plan.hour)
    opened = now - datetime.timedelta(days=rng.randint(2, 5))
    activity, _organiser = _create(community, plan, start=start, created=opened)
    eligible = _eligible(community, plan.min_age, start)
    # Places scale down in a small district, keeping the story: nearly full, full with people waiting.
    if plan.signups > plan.capacity:
        capacity = max(1, min(plan.capacity, len(eligible) - (plan.signups - plan.capacity)))
        wanted = capacity + (plan.signups - plan.capacity)
        if capacity != plan.capacity:
            activity = services.activity_update(
                activity=activity, by=_organiser, now=opened, capacity=capacity
            )
    else:
        wanted = plan.signups
    named = []
    if plan.title == UPCOMING[0].title and "resident" in community.named:
        named = [community.named["resident"]]
    others = [r for r in eligible if r not in named]
    people = named + rng.sample(others, k=min(len(others), max(0, wanted - len(named))))
    _sign_up(community, activity, people, rng, opened=opened, closes=now)


def _record_notes(community: _Community, rng: random.Random, now: datetime.datetime) -> None:
    """Fire training for whoever patrolled, and the year's outstanding volunteers (the most hours)."""
    profiles = VolunteerProfile.objects.filter(resident__community=community.region)
    patrol = (
        profiles.filter(signups__activity__title="消防安全巡查", signups__hours__gt=0)
        .distinct()
        .order_by("pk")
    )
    training_day = _at(now, -50, 9).date()
    for volunteer in patrol:
        services.record_note_add(
            volunteer=volunteer,
            by=community.organiser,
            kind=RecordNote.Kind.TRAINING,
            title="消防培训",
            detail="灭火器和消防栓使用、火场疏散，由辖区消防站讲授，考核合格。",
            on_date=training_day,
        )
    for volunteer in profiles.filter(hours__gt=0).order_by("-hours", "pk")[:2]:
        services.record_note_add(
            volunteer=volunteer,
            by=community.organiser,
            kind=RecordNote.Kind.HONOUR,
            title="优秀志愿者",
            detail=f"{community.region.name}季度优秀志愿者",
            on_date=_at(now, -7, 9).date(),
        )
    best = profiles.filter(hours__gt=0).order_by("-hours", "pk").first()
    if best is not None:
        services.record_note_add(
            volunteer=best,
            by=community.organiser,
            kind=RecordNote.Kind.EVALUATION,
            title="服务评价：认真负责",
            detail="多次参加楼栋清洁和老人探访，居民评价很好。",
            on_date=_at(now, -7, 9).date(),
        )
    if community.named:  # a certificate already issued, for the building leader
        services.certificate_issue(
            volunteer=services.volunteer_profile_for(resident=community.named["building_leader"]),
            by=community.organiser,
            now=_at(now, -5, 10),
        )


def _awards(community: _Community, rng: random.Random, now: datetime.datetime) -> None:
    reasons = ["协助调解邻里漏水纠纷", "帮助独居老人申请居家养老服务", "发现并上报燃气泄漏隐患"]
    if community.named:
        winners = [community.named["resident"], community.named["building_leader"]]
    else:
        winners = rng.sample(community.volunteers, k=min(2, len(community.volunteers)))
    for n, resident in enumerate(winners):
        services.points_award(
            community=community.region,
            resident=resident,
            amount=(30, 50)[n % 2],
            reason=reasons[n % len(reasons)],
            awarded_by=community.organiser,
            idempotency_key=f"demo:award:{community.region.pk}:{resident.pk}",
            now=now - datetime.timedelta(days=12 + 9 * n),
        )


def _supermarket(community: _Community, rng: random.Random, now: datetime.datetime) -> None:
    for kind, name, hours, by_enterprise, items in OUTLETS:
        if by_enterprise and community.enterprise is None:
            continue
        outlet = services.outlet_save(
            outlet=Outlet(
                community=community.region,
                name=name,
                kind=kind,
                organisation=community.enterprise if by_enterprise else None,
                address=f"{community.region.name}{name}",
                opening_hours=hours,
            ),
            by=community.organiser,
        )
        for spec in items:
            community.items[spec.name] = services.item_save(
                item=Item(
                    outlet=outlet,
                    name=spec.name,
                    description=spec.description,
                    unit=spec.unit,
                    price=spec.price,
                    stock=spec.stock,
                    limit_per_person=spec.limit,
                    limit_period=spec.period,
                ),
                by=community.organiser,
            )
    _redemptions(community, rng, now)


def _redeem(community, resident, item_name, quantity, *, moment, token) -> Redemption:
    return services.redemption_create(
        item=community.items[item_name],
        resident=resident,
        quantity=quantity,
        request_token=f"demo-{token}",
        by=resident.user or community.organiser,
        now=moment,
    )


def _redemptions(community: _Community, rng: random.Random, now: datetime.datetime) -> None:
    """Volunteers with points spend some: most collected, one cancelled, a few waiting to be collected."""
    serve = community.organiser
    if community.named:
        resident = community.named["resident"]
        greens = _redeem(
            community, resident, "青菜", 2, moment=_at(now, -4, 8), token=f"{resident.pk}-greens"
        )
        services.redemption_hand_over(code=greens.code, by=serve, now=_at(now, -4, 9))
        _redeem(community, resident, "鸡蛋", 1, moment=_at(now, -1, 18), token=f"{resident.pk}-eggs")
    named = {r.pk for r in community.named.values()}
    balances = dict(
        PointsAccount.objects.filter(
            kind=AccountKind.RESIDENT, community=community.region, balance__gt=0
        ).values_list("resident_id", "balance")
    )
    spenders = [r for r in community.volunteers if r.pk not in named and balances.get(r.pk, 0) >= 25]
    baskets = [
        ("青菜", 2, 5),
        ("鸡蛋", 1, 3),
        ("萝卜", 1, 6),
        ("毛巾", 1, 10),
        ("小葱", 2, 2),
        ("鸡蛋", 1, 1),
    ]
    for n, resident in enumerate(spenders[: len(baskets)]):
        item_name, quantity, days_ago = baskets[n]
        redemption = _redeem(
            community,
            resident,
            item_name,
            quantity,
            moment=_at(now, -days_ago, 9),
            token=f"{resident.pk}-{n}",
        )
        if n == 3:
            services.redemption_cancel(redemption=redemption, by=serve, now=_at(now, -days_ago, 15))
        elif days_ago > 1:
            services.redemption_hand_over(code=redemption.code, by=serve, now=_at(now, -days_ago, 10))


def _honour_roll(community: _Community) -> None:
    """The volunteers with the most hours, and the demo's named residents, chose to appear on the roll."""
    skills = ["家电维修", "理发", "书法", "急救", "电脑", "摄影", "烹饪"]
    top = VolunteerProfile.objects.filter(resident__community=community.region, hours__gt=0).order_by(
        "-hours", "pk"
    )
    chosen = list(top[:5]) + [
        services.volunteer_profile_for(resident=resident) for resident in community.named.values()
    ]
    for n, volunteer in enumerate(dict.fromkeys(chosen)):
        services.volunteer_profile_update(
            volunteer=volunteer, skills=skills[n % len(skills)], on_honour_roll=True
        )
