"""Owners' floor areas (专有部分面积) from an Excel workbook, for rules that count owners by floor area
(Civil Code art. 278).

Staff download a template prefilled with the consultation's owners and households (building, room, name and
the area recorded now), fill in the areas from the property certificates and upload it. The upload is a dry
run: every row is matched to a participant by building and room (as on the community roster) and checked,
and nothing is written. A clean check yields a signed plan (each participant's area as checked and the new
one), carried by the confirmation form, so no file is kept between the two steps. Applying the plan writes
every area or none, under the consultation's lock, and only while the roll is not frozen: voting_open copies
the areas onto the roll, which nothing changes afterwards.
"""

import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import openpyxl
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.styles import Font

from gongzhi.consultations.models import Consultation, Event, Participant, ParticipantKind, Stage, VoteUnit
from gongzhi.consultations.rules import QuorumBasis
from gongzhi.consultations.services import _lock, _record, _require_staff
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import AuditEvent, Household, Region, User
from gongzhi.core.roster import (
    MAX_UNZIPPED_BYTES,
    ROW_MESSAGES,
    BuildingIndex,
    cell_text,
    roster_file_validate,
)
from gongzhi.core.services import audit_record

# Owners vote by head and area; a household stands for the owner unit it lives in.
AREA_KINDS = (ParticipantKind.OWNER, ParticipantKind.HOUSEHOLD)
# Before voting opens; after it, the roll holds the areas and is frozen.
OPEN_STAGES = (Stage.COSIGNING, Stage.REVIEW, Stage.PREPARING)
MAX_AREA = Decimal(10_000)  # m²: no dwelling is larger; a bigger figure is a typing slip (a lost point)
CENT = Decimal("0.01")
PLAN_SALT = "gongzhi.consultations.floor_areas"
PLAN_MAX_AGE = 3600  # seconds between the check and the confirmation


# The workbook's columns. As with the roster, the Chinese headers are canonical and the English keys are
# accepted too; a unit in brackets after a header ("专有部分面积（㎡）") is ignored.
@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("building", "楼栋", ("楼号", "楼栋号")),
    Column("room", "房号", ("房间号", "门牌号", "户号")),
    Column("name", "业主姓名", ("业主", "姓名", "owner")),
    Column("floor_area", "专有部分面积", ("面积", "专有面积", "建筑面积", "area")),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
REQUIRED_COLUMNS = ("building", "room", "floor_area")
UNIT_SUFFIX = re.compile(r"[(（][^)）]*[)）]$")
AREA_UNIT = re.compile(r"\s*(m²|m2|㎡|平方米|平米)$", re.IGNORECASE)


def _header_key(text: str) -> str:
    return UNIT_SUFFIX.sub("", re.sub(r"\s+", "", text)).casefold()


HEADER_KEYS = {
    _header_key(alias): column.key
    for column in COLUMNS
    for alias in (column.key, column.header, *column.aliases)
}

ROW_ERRORS = {
    "room_missing": gettext_lazy("Enter the room."),
    "room_unknown": gettext_lazy("There is no room “%(room)s” in %(building)s on the roster."),
    "not_participant": gettext_lazy(
        "%(building)s %(room)s is not an owner or household taking part in this consultation."
    ),
    "name_mismatch": gettext_lazy("The participant of this room is %(name)s, not %(given)s."),
    "several": gettext_lazy(
        "Several participants hold this room; write the owner's name as on the participant list."
    ),
    "duplicate": gettext_lazy("%(name)s is already in row %(row)s of this file."),
    "area_missing": gettext_lazy("Enter the floor area, or delete the row."),
    "area_not_number": gettext_lazy("Write the floor area as a number of square metres, e.g. 89.5."),
    "area_not_positive": gettext_lazy("The floor area must be more than zero."),
    "area_too_large": gettext_lazy("A floor area above %(max)s m² cannot be right; check the number."),
    "area_decimals": gettext_lazy("Write the floor area with at most two decimals."),
}


def counts_area(consultation: Consultation) -> bool:
    rule_set = consultation.rule_set
    return rule_set.vote_unit == VoteUnit.OWNER or rule_set.quorum_basis == QuorumBasis.OWNERS


def import_refusal(consultation: Consultation) -> str:
    """Why floor areas cannot be imported into this consultation now, or "" if they can."""
    if not counts_area(consultation):
        return _("These rules do not count floor area.")
    if consultation.voting_opened_at is not None:
        return _(
            "Voting has opened: the roll and its floor areas are frozen, and no area can be changed any more."
        )
    if consultation.stage not in OPEN_STAGES:
        return _("This cannot be done while the consultation is “%(stage)s”.") % {
            "stage": consultation.get_stage_display()
        }
    return ""


# Reading the workbook -------------------------------------------------------------------------------------


@dataclass
class AreaRow:
    """One line of the workbook and what became of it. `number` is the row number Excel shows."""

    number: int
    building: str
    room: str
    name: str
    area_cell: object
    area: Decimal | None = None
    participant: Participant | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.participant is not None and not self.errors

    @property
    def changed(self) -> bool:
        return self.matched and self.area != self.participant.floor_area


def _read(data: bytes) -> list[AreaRow]:
    unreadable = ServiceError(_("This file could not be read as an Excel workbook (.xlsx)."), field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
        if unzipped > MAX_UNZIPPED_BYTES:
            raise ServiceError(
                _("The workbook is too large once unpacked; split it into smaller files."), field="file"
            )
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001  (openpyxl raises many kinds of error for a damaged file)
        raise unreadable from None
    try:
        return _rows(workbook)
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001
        raise unreadable from None
    finally:
        workbook.close()


def _rows(workbook) -> list[AreaRow]:
    if not workbook.worksheets:
        raise ServiceError(_("The workbook has no worksheet."), field="file")
    worksheet = workbook.worksheets[0]
    worksheet.reset_dimensions()  # some programs write a wrong size; read what is there
    lines = worksheet.iter_rows(values_only=True)
    positions = _header_positions(next(lines, ()))
    max_rows = settings.ROSTER_IMPORT_MAX_ROWS
    rows = []
    for number, values in enumerate(lines, start=2):
        if not any(cell_text(value) for value in values):
            continue
        if len(rows) == max_rows:
            raise ServiceError(
                _("The file holds more than %(max)s rows; split it into smaller files.") % {"max": max_rows},
                field="file",
            )
        cells = {key: values[at] if at < len(values) else None for key, at in positions.items()}
        rows.append(
            AreaRow(
                number=number,
                building=cell_text(cells["building"]),
                room=cell_text(cells["room"]),
                name=re.sub(r"\s+", " ", cell_text(cells.get("name"))),
                area_cell=cells["floor_area"],
            )
        )
    if not rows:
        raise ServiceError(_("The file holds no rows below the header row."), field="file")
    return rows


def _header_positions(header) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, value in enumerate(header):
        key = HEADER_KEYS.get(_header_key(cell_text(value)))
        if key is None:
            continue
        if key in positions:
            raise ServiceError(
                _("The column “%(column)s” appears twice in the header row.")
                % {"column": COLUMNS_BY_KEY[key].header},
                field="file",
            )
        positions[key] = position
    missing = [COLUMNS_BY_KEY[key].header for key in REQUIRED_COLUMNS if key not in positions]
    if missing:
        raise ServiceError(
            _(
                "The first row must hold the column headers; these are missing: %(columns)s. "
                "Start from the template."
            )
            % {"columns": "、".join(missing)},
            field="file",
        )
    return positions


def parse_area(value) -> tuple[Decimal | None, str, dict]:
    """The area of a cell in m², or None and the error's code and parameters. Excel gives a number; a
    typed text may carry its unit ("89.5㎡")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "area_missing", {}
    if isinstance(value, bool):
        return None, "area_not_number", {}
    # repr gives the shortest text that reads back as the same float: 89.55, not 89.5499999...
    text = repr(value) if isinstance(value, float) else AREA_UNIT.sub("", str(value).strip())
    try:
        area = Decimal(text)
    except InvalidOperation:
        return None, "area_not_number", {}
    if not area.is_finite():
        return None, "area_not_number", {}
    if area <= 0:
        return None, "area_not_positive", {}
    if area > MAX_AREA:
        return None, "area_too_large", {"max": f"{MAX_AREA:,}"}
    if area.quantize(CENT) != area:
        return None, "area_decimals", {}
    return area.quantize(CENT), "", {}


# Matching rows to participants ----------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _household_of(participant: Participant) -> Household | None:
    if participant.household is not None:
        return participant.household
    return participant.resident.household if participant.resident is not None else None


def _place(participant: Participant) -> tuple[int, str] | None:
    """The building and room a participant stands for: a household's own, else the owner's household on the
    roster, else the owner's building with no room. None for an owner known by no room (an organisation)."""
    household = _household_of(participant)
    if household is not None:
        return household.region_id, _key(household.number)
    if participant.resident is not None:
        return participant.resident.region_id, ""
    return None


def _names(participant: Participant) -> set[str]:
    names = {_key(participant.name)}
    if participant.resident is not None:
        names.add(_key(participant.resident.name))
    return names


@dataclass
class AreaCheck:
    """The dry run: every row with its participant or its errors, the participants the file leaves as they
    are, and, when no row failed and some area changes, the plan to apply."""

    rows: list[AreaRow]
    unlisted: list[Participant]
    plan: str = ""

    @property
    def errors(self) -> list[AreaRow]:
        return [row for row in self.rows if row.errors]

    @property
    def changes(self) -> list[AreaRow]:
        return [row for row in self.rows if row.changed]

    @property
    def unchanged(self) -> int:
        return sum(1 for row in self.rows if row.matched and not row.changed)


def _match(consultation: Consultation, rows: list[AreaRow]) -> list[Participant]:
    """Fills each row's participant and errors; returns the area participants no row names. Three queries
    whatever the number of rows."""
    buildings = BuildingIndex(consultation.community)
    participants = list(
        consultation.participants.filter(kind__in=AREA_KINDS).select_related(
            "household", "resident__household"
        )
    )
    by_place: dict[tuple[int, str], list[Participant]] = {}
    for participant in participants:
        place = _place(participant)
        if place is not None:
            by_place.setdefault(place, []).append(participant)

    located = []
    for row in rows:
        building_id = None
        if not row.building:
            row.errors.append(str(ROW_MESSAGES["building_missing"]))
        else:
            building_id, error = buildings.find(row.building)
            if error:
                code, params = error
                row.errors.append(str(ROW_MESSAGES[code]) % params)
        row.area, code, params = parse_area(row.area_cell)
        if code:
            row.errors.append(str(ROW_ERRORS[code]) % params)
        if building_id is not None:
            located.append((row, building_id))

    households = Household.objects.filter(region_id__in={building_id for _row, building_id in located})
    rooms = {(region_id, _key(number)) for region_id, number in households.values_list("region_id", "number")}
    first_row: dict[int, int] = {}
    for row, building_id in located:
        place = (building_id, _key(row.room))
        candidates = by_place.get(place, [])
        if not candidates:
            if not place[1]:
                row.errors.append(str(ROW_ERRORS["room_missing"]))
            elif place not in rooms:
                row.errors.append(
                    str(ROW_ERRORS["room_unknown"]) % {"room": row.room, "building": row.building}
                )
            else:
                row.errors.append(
                    str(ROW_ERRORS["not_participant"]) % {"room": row.room, "building": row.building}
                )
            continue
        if row.name:
            named = [p for p in candidates if _key(row.name) in _names(p)]
            if named:
                candidates = named
            elif len(candidates) == 1 and candidates[0].resident_id:
                # A household's own name is the room; only a person's name can contradict the row.
                row.errors.append(
                    str(ROW_ERRORS["name_mismatch"]) % {"name": candidates[0].name, "given": row.name}
                )
                continue
        if len(candidates) > 1:
            row.errors.append(str(ROW_ERRORS["several"]))
            continue
        participant = candidates[0]
        first = first_row.setdefault(participant.pk, row.number)
        if first != row.number:
            row.errors.append(str(ROW_ERRORS["duplicate"]) % {"name": participant.name, "row": first})
            continue
        row.participant = participant
    return [participant for participant in participants if participant.pk not in first_row]


def floor_areas_check(*, consultation: Consultation, by: User, upload) -> AreaCheck:
    """The dry run of an uploaded workbook: writes nothing. A file that cannot be read, has no header row,
    lacks a column or holds no rows is refused as a whole."""
    _require_staff(by, consultation)
    refusal = import_refusal(consultation)
    if refusal:
        raise ServiceError(refusal)
    roster_file_validate(name=upload.name, size=upload.size)
    rows = _read(upload.read())
    unlisted = _match(consultation, rows)
    check = AreaCheck(rows=rows, unlisted=unlisted)
    if not check.errors and check.changes:
        check.plan = signing.dumps(
            {
                "consultation": consultation.pk,
                "by": by.pk,
                "areas": [
                    [row.participant.pk, str(row.participant.floor_area), str(row.area)]
                    for row in check.changes
                ],
            },
            salt=PLAN_SALT,
            compress=True,
        )
    return check


# Applying ---------------------------------------------------------------------------------------------------


def _plan_areas(plan: str, consultation: Consultation, by: User) -> list[tuple[int, Decimal, Decimal]]:
    try:
        payload = signing.loads(plan, salt=PLAN_SALT, max_age=PLAN_MAX_AGE)
    except signing.SignatureExpired:
        raise ServiceError(_("This check is more than an hour old; upload the file again.")) from None
    except signing.BadSignature:
        raise ServiceError(_("This check could not be read; upload the file again.")) from None
    if payload.get("consultation") != consultation.pk or payload.get("by") != by.pk:
        raise ServiceError(_("This check could not be read; upload the file again."))
    return [(pk, Decimal(old), Decimal(new)) for pk, old, new in payload["areas"]]


def floor_areas_apply(*, consultation: Consultation, by: User, plan: str) -> list[Participant]:
    """Writes the areas of a clean check, all or none, and records it; returns the participants changed.
    Refused if any of those areas changed after the check (or the plan was applied already)."""
    with transaction.atomic():
        consultation = _lock(consultation)
        _require_staff(by, consultation)
        refusal = import_refusal(consultation)
        if refusal:
            raise ServiceError(refusal)
        areas = _plan_areas(plan, consultation, by)
        participants = {
            participant.pk: participant
            for participant in consultation.participants.filter(
                kind__in=AREA_KINDS, pk__in=[pk for pk, _old, _new in areas]
            )
        }
        changed = []
        for pk, old, new in areas:
            participant = participants.get(pk)
            if participant is None or participant.floor_area != old:
                raise ServiceError(
                    _(
                        "The participants or their floor areas changed after this file was checked, "
                        "or it has been imported already; nothing was imported. "
                        "Upload the file again to see the changes."
                    )
                )
            participant.floor_area = new
            changed.append(participant)
        Participant.objects.bulk_update(changed, ["floor_area"], batch_size=500)
        _record(
            consultation,
            Event.Kind.PARTICIPANTS,
            actor=by,
            note=_("Floor areas of %(count)s participants set from a workbook") % {"count": len(changed)},
        )
    return changed


# The template ------------------------------------------------------------------------------------------


def _building_text(building: Region) -> str:
    """compound/building where the building sits in a compound: unambiguous, and the import reads it back."""
    parent = building.parent
    if parent is not None and parent.level == Region.Level.COMPOUND:
        return f"{parent.name}/{building.name}"
    return building.name


def floor_areas_template(*, consultation: Consultation, by: User, request=None) -> bytes:
    """A workbook to fill in: one row per owner or household taking part, with the area recorded now (empty
    where none is). It holds names and rooms, so the download is audited."""
    _require_staff(by, consultation)
    participants = consultation.participants.filter(kind__in=AREA_KINDS).select_related(
        "household__region__parent", "resident__household__region__parent", "resident__region__parent"
    )
    lines = []
    for participant in participants:
        household = _household_of(participant)
        if household is not None:
            building, room = household.region, household.number
        elif participant.resident is not None:
            building, room = participant.resident.region, ""
        else:
            continue  # no room to find it by: the check lists it among those the file leaves as they are
        area = participant.floor_area or None
        lines.append((building.path, room, participant.name, _building_text(building), area))
    lines.sort(key=lambda line: line[:3])

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = _("Floor areas")
    chinese = (translation.get_language() or settings.LANGUAGE_CODE).startswith("zh")
    sheet.append([column.header if chinese else column.key for column in COLUMNS])
    for _path, room, name, building_text, area in lines:
        sheet.append([building_text, room, name, area])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (18, 12, 16, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    # Rooms as text (Excel would read 1-101 as a date); areas with two decimals.
    for row in sheet.iter_rows(min_row=2):
        row[1].number_format = "@"
        row[3].number_format = "0.00"
    sheet.freeze_panes = "A2"
    output = io.BytesIO()
    workbook.save(output)
    audit_record(
        actor=by,
        action=AuditEvent.Action.EXPORT,
        target=consultation,
        region=consultation.community,
        request=request,
        detail={"floor_areas_template": True, "rows": len(lines)},
    )
    return output.getvalue()
