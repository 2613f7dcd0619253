"""Demo community analysis in 清波社区: the yearly needs survey (社区居民需求调查), last year's edition
closed and this year's open, each answered by about 150 residents on paper or with a worker's help; an open
survey of the elderly on meals (老年人助餐需求调查); the needs register resting on those answers; and the
asset map.

The figures are drawn from a seeded generator and shaped as the issue's story goes: elderly care and health
rise from one year to the next while the environment, fixed last year, falls back. Every answer goes through
response_submit as a worker's entry for a resident of the roster, so the one-answer rule and the breakdowns
hold as they would for answers typed in from paper; only the dates are set, last year's in last spring."""

import datetime
import random

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from gongzhi.analysis import services
from gongzhi.analysis.assets import asset_add
from gongzhi.analysis.models import AssetKind, Group, Mode, NeedCategory, NeedStatus, NeedType, QuestionKind
from gongzhi.core.demo import DemoDistrict
from gongzhi.core.models import Region, Resident, ResidentTag

DEMO_SEED = 2027
ANSWERS_A_YEAR = 150
ELDERLY_ANSWERS = 8

Category = NeedCategory

# How often each category is chosen, a year apart; elderly respondents lean further to care and health.
WEIGHTS_LAST_YEAR = {
    Category.ENVIRONMENT: 30, Category.HOUSING: 24, Category.HEALTH: 16, Category.ELDERLY_CARE: 14,
    Category.CHILDCARE: 12, Category.CULTURE: 10, Category.SAFETY: 8, Category.EMPLOYMENT: 6,
    Category.NEIGHBOURHOOD: 5, Category.LEGAL: 3,
}  # fmt: skip
WEIGHTS_THIS_YEAR = {
    Category.ELDERLY_CARE: 32, Category.HEALTH: 24, Category.HOUSING: 20, Category.CHILDCARE: 14,
    Category.CULTURE: 12, Category.ENVIRONMENT: 10, Category.SAFETY: 7, Category.EMPLOYMENT: 6,
    Category.NEIGHBOURHOOD: 6, Category.LEGAL: 3,
}  # fmt: skip
ELDERLY_LEAN = {
    Category.ELDERLY_CARE: 3,
    Category.HEALTH: 2,
    Category.CHILDCARE: 0.3,
    Category.EMPLOYMENT: 0.2,
}
SATISFACTION_LAST_YEAR = (6, 14, 36, 32, 12)  # of 1..5: about 3.3
SATISFACTION_THIS_YEAR = (3, 9, 30, 40, 18)  # about 3.6

TIMES = ["工作日上午", "工作日下午", "工作日晚上", "周末"]
IDEAS = [
    "希望增加老年人助餐点，价格实惠一些。",
    "楼道灯经常坏，希望及时维修。",
    "小区垃圾清运要及时，夏天味道大。",
    "希望开设四点半课堂，孩子放学没人管。",
    "社区活动多在白天，上班族参加不了。",
    "希望卫生服务站能上门给行动不便的老人看病。",
    "停车太乱，消防通道经常被堵。",
    "希望多组织院落邻里活动。",
]


def _chance_weights(weights: dict, elderly: bool) -> dict:
    if not elderly:
        return weights
    return {category: weight * ELDERLY_LEAN.get(category, 1) for category, weight in weights.items()}


def _pick_categories(rng: random.Random, weights: dict, elderly: bool) -> list[str]:
    """One to three categories, drawn without replacement."""
    pool = dict(_chance_weights(weights, elderly))
    chosen = []
    for _n in range(rng.choice((1, 2, 2, 3, 3))):
        category = rng.choices(list(pool), weights=list(pool.values()))[0]
        chosen.append(category.value)
        del pool[category]
    return chosen


def _pick_times(rng: random.Random, elderly: bool) -> list[int]:
    weights = (6, 4, 1, 2) if elderly else (1, 1, 5, 5)
    first = rng.choices(range(len(TIMES)), weights=weights)[0]
    second = rng.choices(range(len(TIMES)), weights=weights)[0]
    return sorted({first, second})


def _answers(rng: random.Random, weights: dict, satisfaction: tuple, elderly: bool) -> dict:
    answers = {
        "needs": _pick_categories(rng, weights, elderly),
        "satisfaction": rng.choices(range(1, 6), weights=satisfaction)[0],
        "times": _pick_times(rng, elderly),
    }
    if rng.random() < 0.2:
        answers["ideas"] = rng.choice(IDEAS)
    return answers


def _is_elderly(resident: Resident, today: datetime.date) -> bool:
    return Group.ELDERLY in services.groups_of(resident, today)


def _at(day: datetime.date, rng: random.Random) -> datetime.datetime:
    """A moment in the working day, when a worker types in forms."""
    return timezone.make_aware(
        datetime.datetime.combine(day, datetime.time(rng.randint(9, 17), rng.randint(0, 59)))
    )


@transaction.atomic
def demo_analysis_create(built: DemoDistrict, *, seed: int = DEMO_SEED) -> int:
    """Returns how many responses were entered."""
    rng = random.Random(seed)
    qingbo, worker = built.places["qingbo"], built.users["community_worker"]
    today = timezone.localdate()
    this_year, last_year = today.year, today.year - 1
    residents = list(
        Resident.objects.filter(community=qingbo)
        .select_related("region", "household")
        .prefetch_related(Prefetch("tags", queryset=ResidentTag.objects.all()))
        .order_by("pk")
    )
    adults = [r for r in residents if r.birth_date and services.age_band(r.birth_date, today) != "0-17"]

    yearly = services.survey_create(
        by=worker, region=qingbo, title="社区居民需求调查", year=last_year,
        intro="为了解居民需求、安排明年的社区服务，请花三分钟填写。问卷匿名，结果只作统计。",
    )  # fmt: skip
    for kind, text, fields in (
        (QuestionKind.NEEDS, "您和家人最需要社区提供哪些服务？（可多选）", {"key": "needs"}),
        (QuestionKind.SCALE, "您对社区目前的服务满意吗？（1=很不满意，5=很满意）", {"key": "satisfaction"}),
        (QuestionKind.MULTIPLE, "您方便参加社区活动的时间？（可多选）", {"key": "times", "options": TIMES}),
        (QuestionKind.LONG_TEXT, "您对社区还有什么建议？", {"key": "ideas", "required": False}),
    ):  # fmt: skip
        services.question_add(survey=yearly, by=worker, kind=kind, text=text, **fields)

    responses = 0
    spring = datetime.date(last_year, 4, 1)
    services.survey_open(survey=yearly, by=worker, now=_at(spring, rng))
    for resident in rng.sample(adults, min(ANSWERS_A_YEAR, len(adults))):
        day = spring + datetime.timedelta(days=rng.randrange(1, 45))
        services.response_submit(
            survey=yearly, by=worker, resident=resident,
            answers=_answers(rng, WEIGHTS_LAST_YEAR, SATISFACTION_LAST_YEAR, _is_elderly(resident, day)),
            mode=rng.choice((Mode.PAPER, Mode.PAPER, Mode.ASSISTED)), now=_at(day, rng),
        )  # fmt: skip
        responses += 1
    services.survey_close(survey=yearly, by=worker, now=_at(spring + datetime.timedelta(days=50), rng))

    # This year's edition opened up to a month ago (on 1 January at the earliest), answered since.
    repeat = services.survey_repeat(survey=yearly, by=worker, year=this_year)
    opened = max(today - datetime.timedelta(days=30), datetime.date(this_year, 1, 1))
    services.survey_open(survey=repeat, by=worker, now=_at(opened, rng))
    span = (today - opened).days
    for resident in rng.sample(adults, min(ANSWERS_A_YEAR, len(adults))):
        day = opened + datetime.timedelta(days=rng.randrange(span + 1))
        services.response_submit(
            survey=repeat, by=worker, resident=resident,
            answers=_answers(rng, WEIGHTS_THIS_YEAR, SATISFACTION_THIS_YEAR, _is_elderly(resident, today)),
            mode=rng.choice((Mode.PAPER, Mode.PAPER, Mode.ASSISTED)),
            now=min(_at(day, rng), timezone.now()),
        )  # fmt: skip
        responses += 1

    responses += _meals_survey(rng, qingbo, worker, residents, today)
    _register(qingbo, worker, last=yearly, this=repeat)
    _assets(built, rng, qingbo, worker, residents, today)
    return responses


def _meals_survey(rng, qingbo: Region, worker, residents: list[Resident], today: datetime.date) -> int:
    meals = services.survey_create(
        by=worker, region=qingbo, title="老年人助餐需求调查", audience_group=Group.ELDERLY,
        intro="社区准备开办老年助餐点，想听听老人家的意见。",
    )  # fmt: skip
    services.question_add(
        survey=meals, by=worker, kind=QuestionKind.SINGLE, key="now", text="您现在平时怎么吃午饭？",
        options=["自己做", "子女或家人做", "在外面买", "经常凑合或不吃"],
    )  # fmt: skip
    services.question_add(
        survey=meals, by=worker, kind=QuestionKind.MULTIPLE, key="wanted", text="希望的助餐方式？（可多选）",
        options=["到助餐点堂食", "送餐上门", "自取打包"],
    )  # fmt: skip
    services.question_add(
        survey=meals, by=worker, kind=QuestionKind.NUMBER, key="price", text="每餐能接受的价格（元）",
        minimum=0, maximum=50,
    )  # fmt: skip
    services.survey_open(survey=meals, by=worker, now=timezone.now() - datetime.timedelta(days=3))
    elderly = [r for r in residents if _is_elderly(r, today) and r.user_id is None]
    chosen = rng.sample(elderly, min(ELDERLY_ANSWERS, len(elderly)))
    for resident in chosen:
        services.response_submit(
            survey=meals, by=worker, resident=resident, mode=Mode.ASSISTED,
            answers={
                "now": rng.choices(range(4), weights=(5, 3, 1, 2))[0],
                "wanted": sorted(set(rng.choices(range(3), weights=(4, 3, 2), k=2))),
                "price": rng.choice((8, 10, 10, 12, 15)),
            },
            now=timezone.now() - datetime.timedelta(hours=rng.randint(1, 60)),
        )  # fmt: skip
    return len(chosen)


def _register(qingbo: Region, worker, *, last, this) -> None:
    needs_last = last.questions.get(key="needs")
    needs_this = this.questions.get(key="needs")

    def option(question, category: str) -> int:
        return question.options.index(category)

    meals = services.need_create(
        by=worker, community=qingbo, title="高龄独居老人吃饭难", category=Category.ELDERLY_CARE,
        need_type=NeedType.FELT, groups=[Group.ELDERLY, Group.VULNERABLE],
        description="需求调查中选择养老服务的居民比去年明显增多；走访中独居老人反映做饭困难。",
    )  # fmt: skip
    services.evidence_add_survey(
        need=meals, by=worker, question=needs_this, option=option(needs_this, Category.ELDERLY_CARE)
    )
    services.evidence_add_note(need=meals, by=worker, note="院落走访：12位独居老人说自己做饭吃力。", count=12)
    services.need_act(
        need=meals, by=worker, status=NeedStatus.PLANNED,
        text="开展老年人助餐需求调查，并与蜀都银行职工食堂商谈午餐向老人开放。",
    )  # fmt: skip

    rubbish = services.need_create(
        by=worker, community=qingbo, title="院落垃圾清运不及时", category=Category.ENVIRONMENT,
        need_type=NeedType.EXPRESSED, groups=[Group.ALL],
    )  # fmt: skip
    services.evidence_add_survey(
        need=rubbish, by=worker, question=needs_last, option=option(needs_last, Category.ENVIRONMENT)
    )
    services.need_act(
        need=rubbish, by=worker, status=NeedStatus.ADDRESSING,
        text="与锦诚物业商定垃圾清运改为每天两次，增设两处分类亭。",
    )  # fmt: skip
    services.need_act(
        need=rubbish, by=worker, status=NeedStatus.MET,
        text="分类亭已投用，今年调查中选择环境卫生的居民明显减少。",
    )  # fmt: skip

    health = services.need_create(
        by=worker, community=qingbo, title="行动不便老人看病难", category=Category.HEALTH,
        need_type=NeedType.FELT, groups=[Group.ELDERLY, Group.DISABILITY],
    )  # fmt: skip
    services.evidence_add_survey(
        need=health, by=worker, question=needs_this, option=option(needs_this, Category.HEALTH)
    )
    services.need_act(
        need=health, by=worker, status=NeedStatus.ADDRESSING,
        text="社区卫生服务站每月第一个周三上门随访，家庭医生签约。",
    )  # fmt: skip

    stairs = services.need_create(
        by=worker, community=qingbo, title="老旧楼栋楼道缺扶手和照明", category=Category.HOUSING,
        need_type=NeedType.NORMATIVE, groups=[Group.ELDERLY],
        description="适老化改造标准要求楼道设扶手和感应灯，1980年代的院落多数没有。",
    )  # fmt: skip
    services.evidence_add_note(
        need=stairs, by=worker, note="楼栋长排查：9栋楼缺扶手，6栋楼道灯损坏。", count=0
    )

    homework = services.need_create(
        by=worker, community=qingbo, title="双职工家庭孩子放学无人照看", category=Category.CHILDCARE,
        need_type=NeedType.COMPARATIVE, groups=[Group.CHILDREN],
        description="吉福社区已开设四点半课堂，清波社区还没有。",
    )  # fmt: skip
    services.evidence_add_survey(
        need=homework, by=worker, question=needs_this, option=option(needs_this, Category.CHILDCARE)
    )


def _assets(built: DemoDistrict, rng, qingbo: Region, worker, residents: list[Resident], today) -> None:
    compound = built.places["qingbo.compound"]
    retired = [r for r in residents if r.user_id is None and 60 <= today.year - r.birth_date.year <= 72]
    for resident, (name, offers, keywords) in zip(
        rng.sample(retired, min(3, len(retired))),
        (
            ("退休医生：测血压、健康咨询", "每周六上午在院落议事亭免费测血压", "医生 血压 健康"),
            ("书法", "教小朋友和老人写毛笔字，写春联", "书法 春联 毛笔字"),
            ("家电维修", "帮独居老人修小家电、换灯泡", "维修 家电 电工"),
        ),
        strict=False,
    ):
        asset_add(
            by=worker, region=qingbo, kind=AssetKind.SKILL, name=name, offers=offers, keywords=keywords,
            resident=resident, willing_to_help=True, resident_agreed=True,
        )  # fmt: skip
    for kind, region, name, offers, description, keywords in (
        (AssetKind.ASSOCIATION, compound, "清波书画社", "每周二、四下午活动，欢迎居民参加",
         "退休居民自发组成的书画爱好者社团，有成员三十余人。", "书法 绘画 老年"),
        (AssetKind.INSTITUTION, qingbo, "清波社区卫生服务站", "家庭医生签约、慢病随访、老人体检",
         "青羊区清波医院设在社区的服务站。", "医疗 体检 慢病"),
        (AssetKind.SPACE, compound, "院落议事亭", "院落议事、纳凉、小型活动",
         "院落中央的亭子，“小事不出院落”的议事会在这里开。", "议事 活动 院落"),
        (AssetKind.CULTURE, qingbo, "“小事不出院落，大事不出社区”的院落自治",
         "可讲给新居民和来访者听的自治故事", "清波社区院落自治的做法，2019年见于《中国社会报》报道。",
         "院落 自治 历史"),
    ):  # fmt: skip
        asset_add(
            by=worker, region=region, kind=kind, name=name, offers=offers, description=description,
            keywords=keywords, willing_to_help=kind != AssetKind.CULTURE,
        )  # fmt: skip
