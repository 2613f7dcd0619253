import pytest
from gongzhi.sharing.tests.conftest import TUESDAY
from gongzhi.core.exceptions import ServiceError


def test_it_books(people, canteen, car_park, hall, book):
    b = book(canteen, TUESDAY, "11:30", "12:00", party_size=3)
    assert b.status == "confirmed" and b.price_due == 36
    p = book(car_park, TUESDAY, "19:00", "07:00", plate="川A12345")
    assert p.status == "confirmed"
    h = book(hall, TUESDAY, "14:00", "16:00")
    assert h.status == "pending"
    with pytest.raises(ServiceError, match="already booked"):
        book(hall, TUESDAY, "16:00", "17:00")
    book(hall, TUESDAY, "16:30", "17:30")

def test_db_refuses(people, hall, book):
    from django.db import IntegrityError, connection
    from gongzhi.sharing.models import Booking
    h = book(hall, TUESDAY, "14:00", "16:00")
    if connection.vendor != "postgresql":
        return
    h.pk = None
    h.request_key = "x"
    h.starts_at = h.starts_at.replace(hour=h.starts_at.hour + 1)
    with pytest.raises(IntegrityError):
        Booking.objects.bulk_create([h])
