"""Consultations in the demo's 清波社区, one at each step of the procedure, built only through the services
(with `now=` in the past), so that every page has something to show and the public record is honest."""

import datetime
from decimal import Decimal

from django.utils import timezone

from gongzhi.consultations import services
from gongzhi.consultations.models import Consultation, Origin, ParticipantKind
from gongzhi.consultations.rules import DecisionRule, QuorumBasis
from gongzhi.core.demo import DemoDistrict
from gongzhi.matters.models import Matter


def demo_consultations_create(built: DemoDistrict) -> int:
    """Returns how many consultations were made."""
    now = timezone.now()
    qingbo, building = built.places["qingbo"], built.places["qingbo.building"]
    worker, secretary = built.users["community_worker"], built.users["community_secretary"]
    everyday = services.rule_set_create(
        by=worker, region=qingbo, name="清波社区议事规则", cosign_threshold=5, notice_days=3,
        quorum_basis=QuorumBasis.PERSONS, quorum_share=Decimal("0.5"),
        decision_rule=DecisionRule.MAJORITY_OF_CAST,
    )  # fmt: skip
    secret = services.rule_set_create(
        by=worker, region=qingbo, name="清波社区无记名表决规则", vote_unit="household", secret_ballot=True,
        quorum_basis=QuorumBasis.HOUSEHOLDS, quorum_share=Decimal("0.5"),
        decision_rule=DecisionRule.MAJORITY_OF_PRESENT, notice_days=3,
    )  # fmt: skip
    services.rule_set_create(
        by=built.users["street_officer"], region=built.places["supo"], name="苏坡街道业主共同决定规则",
        vote_unit="owner", quorum_basis=QuorumBasis.OWNERS, quorum_share=Decimal("0.6667"),
        decision_rule=DecisionRule.CIVIL_CODE_278, publication_days=7, objection_days=5,
    )  # fmt: skip

    def days(n: float) -> datetime.datetime:
        return now + datetime.timedelta(days=n)

    resident, leader = built.users["resident"], built.users["building_leader"]
    compound_leader = built.users["compound_leader"]

    # Gathering co-signers: 周建平's topic, two of five co-signers so far.
    charging = services.consultation_propose(
        by=resident, community=qingbo, rule_set=everyday, title="在清波苑一期增设电动车充电桩",
        description="楼道里给电动车充电有火灾隐患，建议在院落东侧空地集中设置充电桩，按电量收费。",
        origin=Origin.RESIDENT, now=days(-4),
    )  # fmt: skip
    for at, user in ((-3, leader), (-2, compound_leader)):
        services.consultation_cosign(consultation=charging, by=user, now=days(at))

    # Awaiting the committee's review: the social-work agency's topic.
    services.consultation_propose(
        by=built.users["provider_staff"], community=qingbo, rule_set=everyday,
        title="社区食堂延长晚餐供应时间",
        description="双职工家庭反映晚餐供应到18:00太早，建议延长到19:30，费用由社区食堂与机构共担。",
        origin=Origin.ORGANISATION, organisation=built.organisations["agency"], now=days(-1),
    )  # fmt: skip

    # Called: the meeting of 1栋's residents is tomorrow; 周建平 is a participant.
    _prepared(
        worker, qingbo, everyday, building, "1栋楼道照明改造方案",
        "楼道声控灯老化，拟统一更换为感应LED灯，费用从公共收益中列支。",
        ["同意更换为感应LED灯，费用从公共收益列支"],
        notice_at=days(-3), meeting_at=days(1),
    )  # fmt: skip

    # Published: the parking vote, secret, counted in the hall; an objection answered; objections still open.
    parking = _prepared(
        worker, qingbo, secret, built.places["qingbo.compound"], "院落停车位划线与管理",
        "院落停车混乱，拟划定36个车位，按月收取30元管理费用于地面维护。", ["同意划定车位并按月收取管理费"],
        notice_at=days(-12), meeting_at=days(-6), households=True,
    )  # fmt: skip
    _meeting_and_hall_vote(parking, worker, secretary, at=days(-6), present=0.7, yes=0.7, no=0.2)
    services.consultation_publish(consultation=parking, by=worker, now=days(-2))
    objection = services.objection_file(
        consultation=parking, by=compound_leader, text="老人家里没有车，也要分摊地面维护费吗？", now=days(-1)
    )
    services.objection_answer(
        objection=objection,
        by=secretary,
        answer="管理费只向使用车位的住户收取，不向无车住户摊派。",
        now=days(-0.5),
    )

    # Being implemented: handrails, raised from residents' matters about the stairs.
    matter = Matter.objects.filter(community=qingbo).order_by("pk").first()
    handrails = _prepared(
        worker, qingbo, everyday, building, "老旧楼栋加装楼梯扶手",
        "多位老人反映上下楼没有扶手，易摔倒，拟在1栋各单元加装不锈钢扶手。", ["同意加装扶手"],
        notice_at=days(-30), meeting_at=days(-26), origin=Origin.MATTER, source_matter=matter,
    )  # fmt: skip
    _meeting_and_hall_vote(handrails, worker, secretary, at=days(-26), present=0.6, yes=0.9, no=0.05)
    services.consultation_publish(consultation=handrails, by=worker, now=days(-25))
    services.consultation_conclude_publication(consultation=handrails, by=worker, now=days(-18))
    purchase = services.task_add(
        consultation=handrails, by=worker, title="采购扶手材料", responsible="社区居委会",
        due_on=days(-10).date(), now=days(-18),
    )  # fmt: skip
    services.progress_report(task=purchase, by=worker, text="材料已到货并验收。", done=True, now=days(-11))
    fitting = services.task_add(
        consultation=handrails, by=worker, title="各单元安装扶手", responsible="物业公司",
        due_on=days(10).date(), now=days(-10),
    )  # fmt: skip
    services.progress_report(task=fitting, by=worker, text="1单元、2单元已安装完成。", now=days(-2))

    # Done and evaluated: the sorting point moved last spring.
    sorting = _prepared(
        worker, qingbo, everyday, building, "垃圾分类投放点位调整",
        "投放点离1栋太近，夏季异味大，拟移至院落西北角并加装洗手池。", ["同意将投放点移至院落西北角"],
        notice_at=days(-90), meeting_at=days(-86),
    )  # fmt: skip
    _meeting_and_hall_vote(sorting, worker, secretary, at=days(-86), present=0.55, yes=0.75, no=0.2)
    services.consultation_publish(consultation=sorting, by=worker, now=days(-85))
    services.consultation_conclude_publication(consultation=sorting, by=worker, now=days(-78))
    move = services.task_add(
        consultation=sorting, by=worker, title="迁移投放点并加装洗手池", responsible="物业公司",
        due_on=days(-60).date(), now=days(-78),
    )  # fmt: skip
    services.progress_report(
        task=move, by=worker, text="已完成迁移，洗手池已通水。", done=True, now=days(-62)
    )
    services.evaluation_open(consultation=sorting, by=worker, now=days(-60))
    for user, score, comment in ((resident, 5, "异味没有了，很满意。"), (leader, 4, "洗手池很方便。")):
        services.evaluation_submit(consultation=sorting, by=user, score=score, comment=comment, now=days(-58))
    services.consultation_conclude(consultation=sorting, by=worker, now=days(-50))
    return Consultation.objects.filter(community=qingbo).count()


def _prepared(
    worker, community, rule_set, region, title, description, motions, *, notice_at, meeting_at,
    households=False, origin=Origin.COMMITTEE, source_matter=None,
) -> Consultation:  # fmt: skip
    """A topic the committee raised, with participants from a region, its motions and the notice sent."""
    raised = notice_at - datetime.timedelta(days=2)
    consultation = services.consultation_propose(
        by=worker, community=community, rule_set=rule_set, title=title, description=description,
        origin=origin, source_matter=source_matter, now=raised,
    )  # fmt: skip
    services.participants_add_region(
        consultation=consultation, by=worker, region=region, households=households, now=raised
    )
    services.participant_add(
        consultation=consultation, by=worker, kind=ParticipantKind.EXPERT, name="社区规划师", now=raised
    )
    for text in motions:
        services.motion_add(consultation=consultation, by=worker, text=text)
    services.consultation_notice(
        consultation=consultation, by=worker, meeting_at=meeting_at, materials=description,
        place="清波社区党群服务中心二楼会议室", now=notice_at,
    )  # fmt: skip
    return consultation


def _meeting_and_hall_vote(consultation, worker, secretary, *, at, present, yes, no) -> None:
    """The meeting: a share of the voters (`present`) signs in, the hall votes on every motion (shares of
    those present for and against, the rest abstain), the secretary confirms the count, voting closes."""
    everyone = list(consultation.participants.filter(votes=True).order_by("pk"))
    voters = everyone[: max(1, round(len(everyone) * present))]
    for participant in voters:
        services.attendance_sign_in(consultation=consultation, participant=participant, by=worker, now=at)
    services.voting_open(
        consultation=consultation, by=worker, closes_at=at + datetime.timedelta(hours=2), now=at
    )
    for motion in consultation.motions.all():
        tally = services.hall_tally_enter(
            motion=motion, by=worker, yes_heads=round(len(voters) * yes), no_heads=round(len(voters) * no),
            abstain_heads=len(voters) - round(len(voters) * yes) - round(len(voters) * no),
            now=at + datetime.timedelta(minutes=40),
        )  # fmt: skip
        services.hall_tally_confirm(tally=tally, by=secretary, now=at + datetime.timedelta(minutes=45))
    services.voting_close(consultation=consultation, by=worker, now=at + datetime.timedelta(hours=2))
