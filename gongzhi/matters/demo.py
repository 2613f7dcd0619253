"""Demo matters: four months of what the demo district's residents reported and how each tier handled it,
written through the services (with past times) so that the timeline, deadlines and dashboard are real."""

import datetime
import random

from django.utils import timezone

from gongzhi.core.demo import DemoDistrict
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Resident
from gongzhi.matters import services
from gongzhi.matters.models import Category, Matter

DEMO_MATTERS = 80
DEMO_DAYS = 120

DESCRIPTIONS = {
    "repairs": [
        "单元门禁坏了，老人进出不方便",
        "楼道声控灯不亮已经一周",
        "院坝地面塌陷，下雨积水",
        "扶手松动，老人上下楼危险",
    ],
    "sanitation": ["垃圾分类点满了没人清运", "化粪池反味，夏天很难闻", "楼道堆放杂物，有消防隐患"],
    "noise": ["晚上广场舞音响太大", "楼下商铺夜间施工噪音"],
    "parking": ["电动车在楼道充电，很危险", "小区门口乱停车，救护车进不来"],
    "greenery": ["绿化带的树枝挡住了路灯", "小花园的座椅坏了"],
    "water-power": ["3栋停水一天了", "单元电表箱跳闸"],
    "elderly-care": ["独居老人需要助餐服务", "希望增加社区老年活动时间"],
    "neighbour-dispute": ["楼上漏水到我家，协商不成", "邻居占用公共过道"],
    "building-safety": ["老楼外墙瓷砖脱落，砸到了车"],
    "other": ["希望社区开设儿童托管", "快递柜不够用"],
}


def demo_matters_create(built: DemoDistrict, *, seed: int = 2026, count: int = DEMO_MATTERS) -> int:
    """Reports and handles `count` matters in 清波社区 over the last four months; returns how many."""
    rng = random.Random(seed)
    now = timezone.now()
    services.default_categories_install()
    categories = {category.code: category for category in Category.objects.filter(community=None)}
    community = built.places["community.0"]
    residents = list(
        Resident.objects.filter(community=community).select_related("region", "user").order_by("pk")[:400]
    )
    assisting_worker = built.users["community_worker"]
    made = 0
    for n in range(count):
        code = rng.choice(list(DESCRIPTIONS))
        resident = rng.choice(residents)
        reported_at = now - datetime.timedelta(days=DEMO_DAYS * (count - n) / count, hours=rng.uniform(0, 8))
        by_resident = resident.user is not None
        matter = services.matter_report(
            entered_by=resident.user if by_resident else assisting_worker,
            on_behalf_of=None if by_resident else resident,
            category=categories[code],
            description=rng.choice(DESCRIPTIONS[code]),
            region=resident.region,
            hide_name=rng.random() < 0.3,
            now=reported_at,
        )
        _handle(matter, rng, now)
        made += 1
    services.matters_auto_confirm(now=now)
    return made + _matters_to_try(built, categories, now)


def _matters_to_try(built: DemoDistrict, categories: dict, now: datetime.datetime) -> int:
    """Three matters the README walks through: one waiting for 刘德明 to accept, one waiting for 周建平 to
    confirm and rate, and one at the street where 罗斌 can call departments in."""
    resident, leader = built.users["resident"], built.users["compound_leader"]
    home = built.residents["resident"].region
    hours = datetime.timedelta(hours=1)
    services.matter_report(
        entered_by=resident,
        category=categories["repairs"],
        description="1栋2单元的楼道扶手松动了，老人上下楼不安全",
        region=home,
        now=now - 20 * hours,
    )
    to_confirm = services.matter_report(
        entered_by=resident,
        category=categories["sanitation"],
        description="院子东侧的垃圾分类点三天没有清运",
        region=home,
        now=now - 100 * hours,
    )
    services.matter_accept(matter=to_confirm, handler=leader, note="今天联系物业", now=now - 96 * hours)
    services.matter_resolve(
        matter=to_confirm, handler=leader, note="物业已清运，并增加每日巡查", now=now - 30 * hours
    )
    at_street = services.matter_report(
        entered_by=resident,
        category=categories["building-safety"],
        description="1栋外墙瓷砖脱落，楼下停车和行人有危险",
        region=home,
        now=now - 50 * hours,
    )
    services.matter_accept(matter=at_street, handler=built.users["street_officer"], now=now - 47 * hours)
    return 3


def _handler(matter: Matter):
    return services.handlers_at(matter.handling_region, matter.tier).first()


def _handle(matter: Matter, rng: random.Random, now: datetime.datetime) -> None:
    """Plays the matter forward from its report as handlers and the reporter would, stopping at `now`."""
    moment = matter.submitted_at + datetime.timedelta(hours=rng.uniform(0.5, 30))
    if moment > now or _handler(matter) is None:
        return
    if rng.random() < 0.12 and matter.tier != "district":
        matter = services.matter_escalate(
            matter=matter, handler=_handler(matter), reason="需要上一级协调解决", now=moment
        )
        moment += datetime.timedelta(hours=rng.uniform(1, 20))
        if moment > now or _handler(matter) is None:
            return
    handler = _handler(matter)
    matter = services.matter_accept(matter=matter, handler=handler, note="已收到，马上处理", now=moment)
    moment += datetime.timedelta(days=rng.uniform(0.2, 9))
    if moment > now:
        return
    matter = services.matter_resolve(matter=matter, handler=handler, note="已处理完毕，请确认", now=moment)
    moment += datetime.timedelta(days=rng.uniform(0.1, 3))
    if moment > now or rng.random() < 0.12:
        return  # the reporter has not answered (yet): auto-confirmed after 7 days
    reporter = matter.reporter or matter.entered_by
    resolved = rng.random() < 0.9
    try:
        services.matter_confirm(
            matter=matter,
            user=reporter,
            resolved=resolved,
            rating=rng.choice([5, 5, 5, 4, 4, 3]) if resolved else None,
            comment="处理及时，谢谢" if resolved else "问题还在",
            now=moment,
        )
    except ServiceError:
        return
