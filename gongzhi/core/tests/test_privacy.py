import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from PIL import Image

from gongzhi.core import crypto
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.images import image_clean
from gongzhi.core.models import AuditEvent, Resident, User
from gongzhi.core.services import audit_record, resident_unmask


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (fixed names)
        return cursor.fetchone()[0]


def test_it_stores_phone_and_id_numbers_encrypted(people):
    record = people.neighbour_record
    stored_phone = raw_column("core_resident", "phone", record.pk)
    stored_id = raw_column("core_resident", "id_number", record.pk)
    assert "13912345678" not in stored_phone and "11010519491231002X" not in stored_id
    assert crypto.decrypt(stored_phone) == "13912345678"


def test_it_stores_the_login_mobile_encrypted_and_finds_the_user_by_its_hash(people):
    assert "13800000005" not in raw_column("core_user", "mobile", people.community_worker.pk)
    assert User.objects.get_by_natural_key("138 0000 0005") == people.community_worker


def test_it_masks_numbers_for_display(people):
    record = Resident.objects.get(pk=people.neighbour_record.pk)
    assert record.phone_masked == "139****5678"
    assert record.id_number_masked == "110***********002X"


def test_it_finds_a_resident_by_the_keyed_hash_of_the_id_number(people):
    found = Resident.objects.get(id_number_hash=crypto.lookup_hash("11010519491231002X"))
    assert found == people.neighbour_record


def test_it_unmasks_for_the_secretary_and_audits_it(people):
    full = resident_unmask(user=people.community_secretary, resident=people.neighbour_record)
    assert full == {"phone": "13912345678", "id_number": "11010519491231002X"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.UNMASK)
    assert event.actor == people.community_secretary and event.target_id == str(people.neighbour_record.pk)


def test_it_refuses_to_unmask_for_a_community_worker_and_audits_nothing(people):
    with pytest.raises(ServiceError):
        resident_unmask(user=people.community_worker, resident=people.neighbour_record)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


def test_the_database_refuses_to_change_or_delete_audit_events(people):
    event = audit_record(actor=people.admin, action=AuditEvent.Action.EXPORT)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="sign_in")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditEvent.Action.EXPORT


def use_keys(settings, keys):
    settings.FIELD_ENCRYPTION_KEYS = keys
    crypto.fernet.cache_clear()


def test_key_rotation_re_encrypts_with_the_new_key_and_keeps_values(people, settings):
    current_key = crypto._development_key("field-encryption").decode()
    new_key = crypto.Fernet.generate_key().decode()
    try:
        use_keys(settings, [new_key, current_key])
        call_command("rotate_field_keys", stdout=io.StringIO())
        use_keys(settings, [new_key])
        assert Resident.objects.get(pk=people.neighbour_record.pk).phone == "13912345678"
        assert User.objects.get(pk=people.resident.pk).mobile == "13800000001"
        assert AuditEvent.objects.filter(action=AuditEvent.Action.KEY_ROTATION).exists()
    finally:
        use_keys(settings, [])


def test_without_the_old_key_unrotated_values_cannot_be_read(people, settings):
    try:
        use_keys(settings, [crypto.Fernet.generate_key().decode()])
        with pytest.raises(crypto.InvalidToken):
            Resident.objects.get(pk=people.neighbour_record.pk)
    finally:
        use_keys(settings, [])


def photo_with_gps() -> SimpleUploadedFile:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (30.0, 40.0, 0.0)}  # GPSInfo
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return SimpleUploadedFile("street.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_it_strips_exif_from_photos():
    upload = photo_with_gps()
    assert Image.open(io.BytesIO(upload.read())).getexif()
    upload.seek(0)
    cleaned = image_clean(upload)
    image = Image.open(io.BytesIO(cleaned.read()))
    assert not image.getexif() and image.size == (40, 30)


def test_it_refuses_a_file_that_is_not_a_photo():
    with pytest.raises(ServiceError):
        image_clean(SimpleUploadedFile("x.jpg", b"%PDF-1.4 not an image"))
