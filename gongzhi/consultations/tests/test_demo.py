from gongzhi.consultations.demo import demo_consultations_create
from gongzhi.consultations.models import Consultation, Event, Stage
from gongzhi.core.demo import demo_district_build
from gongzhi.matters.demo import demo_matters_create


def test_it_puts_one_consultation_at_each_step_of_the_procedure(db):
    built = demo_district_build(households=10)
    demo_matters_create(built, count=5)
    assert demo_consultations_create(built) == 6
    stages = set(Consultation.objects.values_list("stage", flat=True))
    assert stages == {
        Stage.COSIGNING,
        Stage.REVIEW,
        Stage.PREPARING,
        Stage.PUBLISHED,
        Stage.IMPLEMENTING,
        Stage.EVALUATED,
    }
    published = Consultation.objects.get(stage=Stage.PUBLISHED)
    assert published.motions.get().passed is True
    assert published.objections.get().answered_at is not None
    # Every step left its record, in order.
    evaluated = Consultation.objects.get(stage=Stage.EVALUATED)
    kinds = list(evaluated.events.values_list("kind", flat=True))
    assert kinds[0] == Event.Kind.PROPOSED and kinds[-1] == Event.Kind.EVALUATED
    assert Event.Kind.HALL_TALLY_CONFIRMED in kinds
