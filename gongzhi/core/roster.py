"""The community roster in and out of Excel workbooks (.xlsx).

An import takes two steps. The upload is checked at once, as a dry run that writes nothing to the roster,
and kept as a RosterImport (status CHECKED) with its per-row errors; the workbook itself holds plain ID
numbers, so it is stored encrypted and deleted once the import has run. The user then picks a mode and
confirms, and the task `gongzhi.core.tasks.run_roster_import` imports it in two phases:

1. Reading, outside any transaction. Parsing the workbook is by far the slowest part (openpyxl reads a
   few thousand rows a second), so `processed_rows` is saved after every chunk in its own short write,
   and every other request sees the bar move whatever the database, cache or task backend.
2. Writing, in one transaction. Every row is checked again against the roster as it is now (the dry run
   may be hours old), then households, residents and their tags are written with bulk_create in batches.
   Nothing inside that transaction is visible to others before it commits, so the count of rows written
   so far is kept in the cache under the import's id (shared by every process when REDIS_URL is set;
   without a shared cache the page says "writing" without a count). ALL_OR_NOTHING writes nothing if
   any row fails and VALID_ROWS writes the valid rows; either way a failure half-way leaves no partial rows.

Errors are stored as codes with their parameters and put into words when shown, so each person reads
them in their own language, whichever language the task ran in.
"""

import io
import logging
import re
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

import openpyxl
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Case, ExpressionWrapper, F, QuerySet, TextField, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from gongzhi.core.crypto import decrypt, fernet, lookup_hash
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import AuditEvent, Household, Region, Resident, ResidentTag, RosterImport, User
from gongzhi.core.roles import Perm
from gongzhi.core.scope import NOTHING, has_perm_in, in_scope
from gongzhi.core.selectors import resident_search
from gongzhi.core.services import audit_record, community_of
from gongzhi.core.validators import (
    id_number_birth_date,
    id_number_check_char,
    id_number_sex,
    normalize_id_number,
    normalize_mobile,
    validate_id_number,
    validate_mobile,
)

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024  # a 50,000-row roster is about 1.5 MB
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # an .xlsx is a zip archive: refuse zip bombs before parsing
PROGRESS_EVERY = 500  # rows between two progress reports
WRITE_BATCH = 500  # rows per bulk_create
ERRORS_SHOWN = 100  # errors listed on a page; all of them are in the error report
EXPORT_CHUNK = 2000  # residents fetched per query (and their tags per prefetch) when exporting
PROGRESS_CACHE_SECONDS = 3600


# The columns of the roster workbook. The headers are the file format, as fixed as the column names of a
# database table: the Chinese ones are canonical and the English keys are accepted too. The labels are
# what the pages call the columns, in the reader's language.
@dataclass(frozen=True)
class Column:
    key: str
    header: str
    label: str
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("name", "姓名", gettext_lazy("Name"), ("名字",)),
    Column("id_number", "身份证号", gettext_lazy("ID number"), ("身份证号码", "身份证", "公民身份号码")),
    Column("phone", "手机号", gettext_lazy("Mobile number"), ("手机号码", "手机", "联系电话", "电话")),
    Column("building", "楼栋", gettext_lazy("Building"), ("楼号", "楼栋号")),
    Column("room", "房号", gettext_lazy("Room"), ("房间号", "门牌号", "户号")),
    Column("head", "户主", gettext_lazy("Head of household"), ("是否户主",)),
    Column("tags", "标签", gettext_lazy("Tags"), ("人群标签",)),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
REQUIRED_COLUMNS = ("name", "id_number", "building")
HEADER_KEYS = {
    re.sub(r"\s+", "", alias).casefold(): column.key
    for column in COLUMNS
    for alias in (column.key, column.header, *column.aliases)
}

TAG_SEPARATORS = re.compile(r"[、,，;；]")
HEAD_YES = {"是", "y", "yes", "true", "1", "√", "✓", "户主"}
HEAD_NO = {"", "否", "n", "no", "false", "0", "×"}

# A row of the template that shows the format. Its ID number is valid, so that the row passes the checks
# on the number itself; it is refused by name instead, so that nobody imports the example by mistake.
EXAMPLE_ID_NUMBER = "11010119800101123" + id_number_check_char("11010119800101123")
EXAMPLE_ROW = ("张三", EXAMPLE_ID_NUMBER, "13812345678", "1栋", "1-101", "是", "老年人、独居老人")

# What went wrong with a row, by code. The ID number and mobile messages repeat the validators' msgids
# (gongzhi.core.validators) so that one translation serves both.
ROW_MESSAGES = {
    "name_missing": gettext_lazy("Enter the resident's name."),
    "name_too_long": gettext_lazy("A name has at most 50 characters."),
    "id_missing": gettext_lazy("Enter the ID number."),
    "id_format": gettext_lazy("An ID number has 17 digits followed by a digit or X."),
    "id_birth_date": gettext_lazy("The ID number holds an impossible birth date."),
    "id_check": gettext_lazy("The ID number's check digit is wrong; please check the number."),
    "id_as_number": gettext_lazy(
        "Excel stored this ID number as a number and lost its last digits; format the column as text "
        "and type the number again."
    ),
    "id_duplicate": gettext_lazy("The same ID number is already in row %(row)s of this file."),
    "id_on_roster": gettext_lazy("A resident with this ID number is already on the roster."),
    "example_row": gettext_lazy("This is the template's example row; delete it."),
    "mobile": gettext_lazy("Enter an 11-digit mainland mobile number, e.g. 13812345678."),
    "building_missing": gettext_lazy("Enter the building."),
    "building_unknown": gettext_lazy("There is no building called “%(name)s” in this community."),
    "building_ambiguous": gettext_lazy(
        "Several buildings in this community are called “%(name)s”; "
        "write the compound too, e.g. “%(example)s”."
    ),
    "room_too_long": gettext_lazy("A room number has at most 32 characters."),
    "head_invalid": gettext_lazy("Write yes or no (是 or 否)."),
    "tag_unknown": gettext_lazy("“%(tag)s” is not a known tag."),
    "conflict": gettext_lazy("The roster changed while this file was being imported; nothing was imported."),
    "failed": gettext_lazy("The import stopped because of an unexpected error; nothing was imported."),
}


# Reading a workbook -------------------------------------------------------------------------------


@dataclass
class RosterRow:
    """One line of the workbook, as text. `number` is the row number Excel shows."""

    number: int
    name: str = ""
    id_number: str = ""
    phone: str = ""
    building: str = ""
    room: str = ""
    head: str = ""
    tags: str = ""
    id_number_was_numeric: bool = False


@dataclass
class RosterSheet:
    letters: dict[str, str]  # column key -> the Excel column letter it was found in
    rows: list[RosterRow]


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def roster_file_validate(*, name: str, size: int) -> None:
    if not name.lower().endswith(".xlsx"):
        raise ServiceError(
            _(
                "Only Excel workbooks (.xlsx) can be imported; "
                "in Excel, choose “Save as” and “Excel workbook”."
            ),
            field="file",
        )
    if size > MAX_FILE_BYTES:
        raise ServiceError(
            _("The file is larger than %(size)s MB; split it into smaller files.")
            % {"size": MAX_FILE_BYTES // 2**20},
            field="file",
        )


def roster_sheet_read(data: bytes, *, on_progress: Callable[[int], None] | None = None) -> RosterSheet:
    """The first worksheet's rows below the header row; empty rows are skipped. Raises ServiceError for a
    file that is not a readable workbook, has no header row or lacks required columns, holds no rows or
    more than ROSTER_IMPORT_MAX_ROWS."""
    unreadable = ServiceError(_("This file could not be read as an Excel workbook (.xlsx)."), field="file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001  (openpyxl raises many kinds of error for a damaged file)
        raise unreadable from None
    if unzipped > MAX_UNZIPPED_BYTES:
        workbook.close()
        raise ServiceError(
            _("The workbook is too large once unpacked; split it into smaller files."), field="file"
        )
    try:
        return _sheet_rows(workbook, on_progress)
    except ServiceError:
        raise
    except Exception:  # noqa: BLE001
        raise unreadable from None
    finally:
        workbook.close()


def _sheet_rows(workbook, on_progress) -> RosterSheet:
    if not workbook.worksheets:
        raise ServiceError(_("The workbook has no worksheet."), field="file")
    worksheet = workbook.worksheets[0]
    worksheet.reset_dimensions()  # some programs write a wrong size; read what is there
    lines = worksheet.iter_rows(values_only=True)
    positions = _header_positions(next(lines, ()))
    max_rows = settings.ROSTER_IMPORT_MAX_ROWS
    rows: list[RosterRow] = []
    for number, values in enumerate(lines, start=2):
        if not any(cell_text(value) for value in values):
            continue
        if len(rows) == max_rows:
            raise ServiceError(
                _("The file holds more than %(max)s rows; split it into smaller files.") % {"max": max_rows},
                field="file",
            )
        row = RosterRow(number=number)
        for key, position in positions.items():
            value = values[position] if position < len(values) else None
            setattr(row, key, cell_text(value))
            if key == "id_number":
                row.id_number_was_numeric = isinstance(value, int | float) and not isinstance(value, bool)
        rows.append(row)
        if on_progress and len(rows) % PROGRESS_EVERY == 0:
            on_progress(len(rows))
    if not rows:
        raise ServiceError(_("The file holds no residents below the header row."), field="file")
    if on_progress and len(rows) % PROGRESS_EVERY:
        on_progress(len(rows))
    return RosterSheet(
        letters={key: get_column_letter(position + 1) for key, position in positions.items()}, rows=rows
    )


def _header_positions(header: Iterable) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, value in enumerate(header):
        key = HEADER_KEYS.get(re.sub(r"\s+", "", cell_text(value)).casefold())
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


# Checking rows ------------------------------------------------------------------------------------


@dataclass
class CheckedRow:
    """A row that passed every check, ready to be written."""

    number: int
    name: str
    id_number: str
    id_number_hash: str
    phone: str
    building_id: int
    room: str
    is_household_head: bool
    tags: list[str] = field(default_factory=list)


class BuildingIndex:
    """The buildings of a community, found by name ("1栋") or by compound and name ("清波院落/1栋" or
    "清波院落1栋"), which tells apart buildings of the same name in different compounds."""

    def __init__(self, community: Region):
        self.by_name: dict[str, list[int]] = {}
        self.by_compound_name: dict[str, list[int]] = {}
        self.full_names: dict[int, str] = {}
        buildings = Region.objects.filter(path__startswith=community.path, level=Region.Level.BUILDING)
        for pk, name, parent_name in buildings.values_list("pk", "name", "parent__name"):
            self.full_names[pk] = f"{parent_name}/{name}"
            self.by_name.setdefault(self.key(name), []).append(pk)
            self.by_compound_name.setdefault(self.key(self.full_names[pk]), []).append(pk)
            self.by_compound_name.setdefault(self.key(f"{parent_name}{name}"), []).append(pk)

    @staticmethod
    def key(text: str) -> str:
        return re.sub(r"\s+", "", text).replace("／", "/").casefold()

    def find(self, text: str) -> tuple[int | None, tuple[str, dict] | None]:
        """The building's id, or None and the error's code and parameters."""
        key = self.key(text)
        candidates = self.by_name.get(key) or self.by_compound_name.get(key)
        if not candidates:
            return None, ("building_unknown", {"name": text})
        if len(candidates) > 1:
            return None, ("building_ambiguous", {"name": text, "example": self.full_names[candidates[0]]})
        return candidates[0], None


def tag_values_by_text() -> dict[str, str]:
    """ResidentTag values by their value or their label in any of the site's languages."""
    values = {tag.value: tag.value for tag in ResidentTag.Tag}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            values.update({str(tag.label).casefold(): tag.value for tag in ResidentTag.Tag})
    # The short names people write in Chinese rosters, as in the template's example row.
    values.update(
        {
            "老年人": "elderly",
            "独居老人": "living_alone",
            "儿童": "child",
            "青少年": "child",
            "残疾人": "disability",
            "低保": "low_income",
            "低收入": "low_income",
            "少数民族": "minority",
            "退役军人": "veteran",
        }
    )
    return values


def ids_on_roster(id_number_hashes: Iterable[str]) -> set[str]:
    """Which of these ID number hashes are already on the roster, in chunks small enough for any database."""
    found: set[str] = set()
    for chunk in _chunks_of(id_number_hashes, 500):
        # The exclusion lets SQLite use the partial unique index on the hash; it cannot infer it from IN.
        on_roster = Resident.objects.filter(id_number_hash__in=chunk).exclude(id_number_hash="")
        found.update(on_roster.values_list("id_number_hash", flat=True))
    return found


def roster_rows_check(rows: list[RosterRow], *, community: Region) -> tuple[list[CheckedRow], list[dict]]:
    """Every check of every row: the valid rows, ready to write, and the errors of the others.
    Two queries, plus one per 500 rows for the ID numbers already on the roster."""
    buildings = BuildingIndex(community)
    tag_values = tag_values_by_text()
    first_row_by_hash: dict[str, int] = {}
    candidates: list[tuple[RosterRow, list[tuple[str, str, dict]], CheckedRow | None, str | None]] = []
    for row in rows:
        errors: list[tuple[str, str, dict]] = []
        checked, id_number_hash = _row_check(row, buildings, tag_values, errors)
        if id_number_hash is not None:
            # The second and later rows of a person are the errors, whatever else is wrong in the first.
            first = first_row_by_hash.setdefault(id_number_hash, row.number)
            if first != row.number:
                errors.append(("id_number", "id_duplicate", {"row": first}))
        candidates.append((row, errors, checked, id_number_hash))
    on_roster = ids_on_roster(first_row_by_hash)
    valid: list[CheckedRow] = []
    errors_found: list[dict] = []
    for row, errors, checked, id_number_hash in candidates:
        if id_number_hash in on_roster:
            errors.append(("id_number", "id_on_roster", {}))
        if errors:
            errors_found.extend(
                {"row": row.number, "column": column, "code": code, "params": params}
                for column, code, params in errors
            )
        elif checked is not None:
            valid.append(checked)
    return valid, errors_found


def _row_check(
    row: RosterRow, buildings: BuildingIndex, tag_values: dict[str, str], errors: list
) -> tuple[CheckedRow | None, str | None]:
    """The row ready to write if it has no error (else the errors are appended to `errors`), and the
    hash of its ID number if that number is valid."""
    name = re.sub(r"\s+", " ", row.name)
    if not name:
        errors.append(("name", "name_missing", {}))
    elif len(name) > 50:
        errors.append(("name", "name_too_long", {}))

    id_number = normalize_id_number(re.sub(r"\s+", "", row.id_number))
    id_number_hash = None
    if not id_number:
        errors.append(("id_number", "id_missing", {}))
    else:
        try:
            validate_id_number(id_number)
        except ValidationError as error:
            errors.append(("id_number", "id_as_number" if row.id_number_was_numeric else error.code, {}))
        else:
            id_number_hash = lookup_hash(id_number)
            if id_number == EXAMPLE_ID_NUMBER:
                errors.append(("id_number", "example_row", {}))

    phone = normalize_mobile(row.phone)
    if phone:
        try:
            validate_mobile(phone)
        except ValidationError:
            errors.append(("phone", "mobile", {}))

    building_id = None
    if not row.building:
        errors.append(("building", "building_missing", {}))
    else:
        building_id, error = buildings.find(row.building)
        if error:
            errors.append(("building", *error))

    room = row.room
    if len(room) > 32:
        errors.append(("room", "room_too_long", {}))

    head = row.head.casefold()
    if head not in HEAD_YES and head not in HEAD_NO:
        errors.append(("head", "head_invalid", {}))

    tags = []
    for text in TAG_SEPARATORS.split(row.tags):
        text = text.strip()
        if not text:
            continue
        value = tag_values.get(text.casefold())
        if value is None:
            errors.append(("tags", "tag_unknown", {"tag": text}))
        elif value not in tags:
            tags.append(value)

    if errors:
        return None, id_number_hash
    checked = CheckedRow(
        number=row.number,
        name=name,
        id_number=id_number,
        id_number_hash=id_number_hash,
        phone=phone,
        building_id=building_id,
        room=room,
        is_household_head=head in HEAD_YES,
        tags=tags,
    )
    return checked, id_number_hash


@dataclass
class RowError:
    """An error put into words for the reader."""

    row: int | None
    column: str
    letter: str
    message: str


def roster_errors_describe(errors: list[dict], *, limit: int | None = None) -> list[RowError]:
    """The first `limit` errors (ERRORS_SHOWN by default) in words."""
    described = []
    for error in errors[: ERRORS_SHOWN if limit is None else limit]:
        column = COLUMNS_BY_KEY.get(error.get("column") or "")
        template = ROW_MESSAGES.get(error["code"], ROW_MESSAGES["failed"])
        params = error.get("params") or {}
        described.append(
            RowError(
                row=error.get("row"),
                column=str(column.label) if column else "",
                letter=error.get("letter", ""),
                message=str(template) % params if params else str(template),
            )
        )
    return described


def roster_error_report(roster_import: RosterImport) -> bytes:
    """Every error of an import as a workbook, in the reader's language, to correct the file by."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Errors"))
    sheet.append([_("Row"), _("Column"), _("Problem")])
    for error in roster_errors_describe(roster_import.errors, limit=len(roster_import.errors)):
        column = f"{error.column} ({error.letter})" if error.letter else error.column
        sheet.append([error.row, column, error.message])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# Reads --------------------------------------------------------------------------------------------


def roster_imports_visible_to(user) -> QuerySet[RosterImport]:
    return RosterImport.objects.filter(in_scope(user, Perm.IMPORT_ROSTER, field="community"))


def access_roster_import(user, import_id: int) -> RosterImport:
    return get_object_or_404(
        roster_imports_visible_to(user).select_related("community", "created_by"), pk=import_id
    )


def access_roster_community(user, region_id: int, perm: Perm) -> Region:
    """The community of a region where the user holds `perm` (a building or grid id leads to its
    community); anything else is 404."""
    region = get_object_or_404(Region.objects.filter(in_scope(user, perm, field=None)), pk=region_id)
    try:
        community = community_of(region)
    except ServiceError:
        raise Http404 from None
    if not has_perm_in(user, perm, community):
        raise Http404
    return community


def progress_key(import_id: int) -> str:
    return f"roster-import:{import_id}:written"


@dataclass
class RosterProgress:
    phase: str  # "reading", "writing" or "finished"
    done: int | None  # None while writing when the count is not known in this process
    total: int

    @property
    def percent(self) -> int:
        return int(100 * (self.done or 0) / self.total) if self.total else 100


def roster_import_progress(roster_import: RosterImport) -> RosterProgress:
    if roster_import.status != RosterImport.Status.RUNNING:
        return RosterProgress(phase="finished", done=roster_import.total_rows, total=roster_import.total_rows)
    if roster_import.processed_rows < roster_import.total_rows:
        return RosterProgress(
            phase="reading", done=roster_import.processed_rows, total=roster_import.total_rows
        )
    written = cache.get(progress_key(roster_import.pk))
    return RosterProgress(phase="writing", done=written, total=roster_import.valid_rows)


# Writes -------------------------------------------------------------------------------------------


def roster_file_data(roster_import: RosterImport) -> bytes:
    with roster_import.file.open("rb") as stored:
        return fernet().decrypt(stored.read())


def roster_import_check(*, user: User, community: Region, upload) -> RosterImport:
    """Checks an uploaded workbook (the dry run) and keeps it, encrypted, for the import. A file that cannot
    be read writes nothing."""
    if not has_perm_in(user, Perm.IMPORT_ROSTER, community):
        raise ServiceError(_("You may not import residents into this community."))
    roster_file_validate(name=upload.name, size=upload.size)
    data = upload.read()
    sheet = roster_sheet_read(data)
    valid, errors = roster_rows_check(sheet.rows, community=community)
    for error in errors:
        error["letter"] = sheet.letters.get(error["column"], "")
    stored = ContentFile(fernet().encrypt(data), name=f"{uuid.uuid4().hex}.xlsx.enc")
    with transaction.atomic():
        return RosterImport.objects.create(
            community=community,
            created_by=user,
            file=stored,
            original_name=upload.name[:200],
            total_rows=len(sheet.rows),
            valid_rows=len(valid),
            errors=errors,
        )


@transaction.atomic
def roster_import_start(*, user: User, roster_import: RosterImport, mode: str) -> RosterImport:
    """Queues a checked import; it runs once this transaction commits."""
    from gongzhi.core.tasks import run_roster_import  # the task module imports this one

    roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
    if not has_perm_in(user, Perm.IMPORT_ROSTER, roster_import.community):
        raise ServiceError(_("You may not import residents into this community."))
    if roster_import.status != RosterImport.Status.CHECKED:
        raise ServiceError(_("This file has already been imported."))
    if mode not in RosterImport.Mode.values:
        raise ServiceError(_("Choose what to do with the rows that have errors."), field="mode")
    if roster_import.valid_rows == 0:
        raise ServiceError(_("No row of this file can be imported; correct the file and upload it again."))
    roster_import.mode = mode
    roster_import.status = RosterImport.Status.RUNNING
    roster_import.processed_rows = 0
    roster_import.save(update_fields=["mode", "status", "processed_rows"])
    cache.delete(progress_key(roster_import.pk))
    transaction.on_commit(partial(run_roster_import.enqueue, import_id=roster_import.pk, actor_id=user.pk))
    return roster_import


@transaction.atomic
def roster_import_retry(*, user: User, roster_import: RosterImport) -> RosterImport:
    """Runs an import again whose worker stopped (a restart, a crash) before it finished. The import's
    writes were one transaction, so nothing of the stopped run remains; and a second run is harmless even
    if the first still goes on: whichever takes the import's row lock second finds it finished."""
    from gongzhi.core.tasks import run_roster_import  # the task module imports this one

    roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
    if not has_perm_in(user, Perm.IMPORT_ROSTER, roster_import.community):
        raise ServiceError(_("You may not import residents into this community."))
    if roster_import.status != RosterImport.Status.RUNNING or not roster_import.file:
        raise ServiceError(_("This import is not running any more."))
    roster_import.processed_rows = 0
    roster_import.save(update_fields=["processed_rows"])
    cache.delete(progress_key(roster_import.pk))
    transaction.on_commit(partial(run_roster_import.enqueue, import_id=roster_import.pk, actor_id=user.pk))
    return roster_import


def roster_import_run(*, import_id: int, actor_id: int | None = None) -> None:
    """Runs a started import (the body of the task): reading with progress, then one transaction."""
    roster_import = RosterImport.objects.select_related("community").get(pk=import_id)
    if roster_import.status != RosterImport.Status.RUNNING:
        return  # already finished: a task delivered twice runs once
    actor = User.objects.filter(pk=actor_id).first() if actor_id else roster_import.created_by
    try:
        sheet = roster_sheet_read(
            roster_file_data(roster_import), on_progress=partial(_reading_progress_save, roster_import)
        )
        _import_write(roster_import_id=import_id, sheet=sheet, actor=actor)
    except IntegrityError:
        # Someone else wrote the same person or room between our check and our insert (PostgreSQL; SQLite
        # serialises writers). The transaction rolled back whole.
        _import_fail(roster_import, actor=actor, code="conflict")
    except Exception:
        logger.exception("Roster import %s failed", import_id)
        _import_fail(roster_import, actor=actor, code="failed")
        raise
    finally:
        cache.delete(progress_key(import_id))
        _import_file_delete(import_id)


def _reading_progress_save(roster_import: RosterImport, rows_read: int) -> None:
    # Its own autocommit write, outside the import's transaction: visible at once to the progress page.
    # Only forwards, should a second run (see roster_import_retry) be reading too.
    rows_read = min(rows_read, roster_import.total_rows)
    RosterImport.objects.filter(
        pk=roster_import.pk, status=RosterImport.Status.RUNNING, processed_rows__lt=rows_read
    ).update(processed_rows=rows_read)


def _import_write(*, roster_import_id: int, sheet: RosterSheet, actor: User | None) -> None:
    with transaction.atomic():
        roster_import = (
            RosterImport.objects.select_for_update().select_related("community").get(pk=roster_import_id)
        )
        if roster_import.status != RosterImport.Status.RUNNING:
            return
        community = roster_import.community
        valid, errors = roster_rows_check(sheet.rows, community=community)
        for error in errors:
            error["letter"] = sheet.letters.get(error["column"], "")
        roster_import.total_rows = len(sheet.rows)
        roster_import.processed_rows = len(sheet.rows)
        roster_import.valid_rows = len(valid)
        roster_import.errors = errors
        imported = 0
        if valid and not (errors and roster_import.mode == RosterImport.Mode.ALL_OR_NOTHING):
            imported = roster_rows_write(
                community=community,
                rows=valid,
                on_progress=partial(
                    cache.set, progress_key(roster_import.pk), timeout=PROGRESS_CACHE_SECONDS
                ),
            )
        roster_import.imported_rows = imported
        roster_import.status = RosterImport.Status.DONE if imported else RosterImport.Status.FAILED
        roster_import.finished_at = timezone.now()
        roster_import.save()
        _import_audit(roster_import, actor=actor)


def _import_fail(roster_import: RosterImport, *, actor: User | None, code: str) -> None:
    with transaction.atomic():
        roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
        if roster_import.status != RosterImport.Status.RUNNING:
            return  # another run finished it
        roster_import.status = RosterImport.Status.FAILED
        roster_import.imported_rows = 0
        roster_import.errors = [{"row": None, "column": "", "code": code, "params": {}}]
        roster_import.finished_at = timezone.now()
        roster_import.save()
        _import_audit(roster_import, actor=actor)


def _import_audit(roster_import: RosterImport, *, actor: User | None) -> None:
    audit_record(
        actor=actor,
        action=AuditEvent.Action.IMPORT,
        target=roster_import,
        region=roster_import.community,
        detail={
            "mode": roster_import.mode,
            "status": roster_import.status,
            "total_rows": roster_import.total_rows,
            "valid_rows": roster_import.valid_rows,
            "imported_rows": roster_import.imported_rows,
            "error_count": len(roster_import.errors),
            "file": roster_import.original_name,
        },
    )


def _import_file_delete(import_id: int) -> None:
    """The workbook holds plain ID numbers: once imported (or not) it is not kept (PIPL art. 19)."""
    roster_import = RosterImport.objects.get(pk=import_id)
    if roster_import.file:
        roster_import.file.delete(save=False)
        RosterImport.objects.filter(pk=import_id).update(file="")


def roster_rows_write(
    *, community: Region, rows: list[CheckedRow], on_progress: Callable[[int], None] | None = None
) -> int:
    """Writes checked rows (households, residents, tags) in batches; the caller holds the transaction."""
    household_ids = _households_for(community, rows)
    written = 0
    for batch in _chunks_of(rows, WRITE_BATCH):
        residents = []
        for row in batch:
            resident = Resident(
                community=community,
                region_id=row.building_id,
                household_id=household_ids.get((row.building_id, row.room)),
                name=row.name,
                is_household_head=row.is_household_head,
                birth_date=id_number_birth_date(row.id_number),
                sex=id_number_sex(row.id_number),
            )
            resident.set_id_number(row.id_number)
            resident.set_phone(row.phone)
            residents.append(resident)
        Resident.objects.bulk_create(residents)
        if any(row.tags for row in batch):
            resident_ids = _resident_ids(residents)
            ResidentTag.objects.bulk_create(
                [
                    ResidentTag(resident_id=resident_ids[row.id_number_hash], tag=tag)
                    for row in batch
                    for tag in row.tags
                ]
            )
        written += len(batch)
        if on_progress:
            on_progress(written)
    return written


def _households_for(community: Region, rows: list[CheckedRow]) -> dict[tuple[int, str], int]:
    building_ids = {row.building_id for row in rows if row.room}
    if not building_ids:
        return {}
    existing = {
        (region_id, number): pk
        for pk, region_id, number in Household.objects.filter(region_id__in=building_ids).values_list(
            "pk", "region_id", "number"
        )
    }
    missing = {(row.building_id, row.room) for row in rows if row.room} - existing.keys()
    if missing:
        Household.objects.bulk_create(
            [
                Household(community=community, region_id=region_id, number=number)
                for region_id, number in sorted(missing)
            ],
            batch_size=WRITE_BATCH,
        )
        existing = {
            (region_id, number): pk
            for pk, region_id, number in Household.objects.filter(region_id__in=building_ids).values_list(
                "pk", "region_id", "number"
            )
        }
    return existing


def _resident_ids(residents: list[Resident]) -> dict[str, int]:
    if connection.features.can_return_rows_from_bulk_insert:
        return {resident.id_number_hash: resident.pk for resident in residents}
    return dict(
        Resident.objects.filter(id_number_hash__in=[r.id_number_hash for r in residents])
        .exclude(id_number_hash="")
        .values_list("id_number_hash", "pk")
    )


# Template and export ------------------------------------------------------------------------------


def roster_headers() -> list[str]:
    """Chinese headers for a Chinese page, the English keys otherwise; the import accepts both."""
    if (translation.get_language() or settings.LANGUAGE_CODE).startswith("zh"):
        return [column.header for column in COLUMNS]
    return [column.key for column in COLUMNS]


def roster_template() -> bytes:
    """An empty roster workbook: the header row, one example row and a sheet explaining each column."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = _("Roster")
    sheet.append(roster_headers())
    sheet.append(list(EXAMPLE_ROW))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="666666")
    for position, width in enumerate((12, 22, 15, 12, 10, 8, 24), start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    # ID and mobile numbers as text: Excel keeps only 15 digits of a number.
    for letter in ("B", "C"):
        sheet.column_dimensions[letter].number_format = "@"
        sheet[f"{letter}2"].number_format = "@"
    sheet.freeze_panes = "A2"

    help_sheet = workbook.create_sheet(_("Instructions"))
    help_sheet.append([_("Column"), _("What to write")])
    tags = "、".join(str(tag.label) for tag in ResidentTag.Tag)
    for header, text in (
        ("姓名 / name", _("The resident's name. Required.")),
        ("身份证号 / id_number", _("The 18-character resident ID number. Required; each person once.")),
        ("手机号 / phone", _("An 11-digit mainland mobile number. May be left empty.")),
        (
            "楼栋 / building",
            _(
                "The building's name as in the region tree, e.g. 1栋. Where two compounds have a "
                "building of the same name, write compound/building."
            ),
        ),
        (
            "房号 / room",
            _("The room, e.g. 1-101. Residents with the same building and room form one household."),
        ),
        ("户主 / head", _("是 (yes) for the head of the household, otherwise 否 (no) or empty.")),
        (
            "标签 / tags",
            _("Groups the resident belongs to, separated by 、 or a comma: %(tags)s.") % {"tags": tags},
        ),
    ):
        help_sheet.append([header, str(text)])
    help_sheet.append([])
    help_sheet.append([_("Delete the example row before importing. Only the first worksheet is imported.")])
    help_sheet.column_dimensions["A"].width = 22
    help_sheet.column_dimensions["B"].width = 90
    help_sheet["A1"].font = help_sheet["B1"].font = Font(bold=True)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


@dataclass
class RosterExport:
    file: tempfile.SpooledTemporaryFile
    filename: str
    rows: int
    full_rows: int

    @property
    def masked(self) -> bool:
        return self.full_rows == 0


def _where(condition) -> Case:
    """True for the rows matching a scope filter, computed by the database."""
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _ciphertext_where(condition, column: str) -> Case:
    """The stored ciphertext of an encrypted column, only for the rows matching `condition`. The wrapper
    keeps the field's own decryption away, so nothing is decrypted unless the caller decides to."""
    wrapped = ExpressionWrapper(F(column), output_field=TextField())
    return Case(When(condition, then=wrapped), default=Value(""), output_field=TextField())


EXPORT_COLUMNS = (
    "pk", "name", "id_number_masked", "phone_masked", "region__name", "region__parent__name",
    "region__parent__level", "household__number", "is_household_head", "community__name",
    "full_data", "id_number_token", "phone_token", "sensitive_tags",
)  # fmt: skip


def roster_export(
    *,
    user: User,
    community: Region | None = None,
    query: str = "",
    building_id: int | None = None,
    request=None,
) -> RosterExport:
    """An .xlsx of the residents the user may export, masked except in communities where the user may see
    full personal data, without sensitive groups unless the user may see them. Every export is audited
    with its row count. Rows are read as plain values, in chunks, with one query for the tags of each
    chunk: the query count does not grow with the rows, and no model instance is built per row."""
    if community is not None and not has_perm_in(user, Perm.EXPORT_ROSTER, community):
        raise ServiceError(_("You may not export the roster of this community."))
    full_scope = in_scope(user, Perm.VIEW_FULL_PERSONAL_DATA, field="community")
    no_ciphertext = full_scope is NOTHING  # a masked export does not even read the encrypted columns
    residents = (
        resident_search(
            user, query=query, building_id=building_id, community_id=community.pk if community else None
        )
        .filter(in_scope(user, Perm.EXPORT_ROSTER))
        .annotate(
            full_data=Value(False) if no_ciphertext else _where(full_scope),
            id_number_token=Value("") if no_ciphertext else _ciphertext_where(full_scope, "id_number"),
            phone_token=Value("") if no_ciphertext else _ciphertext_where(full_scope, "phone"),
            sensitive_tags=_where(in_scope(user, Perm.VIEW_SENSITIVE_TAGS, field="community")),
        )
        .order_by("community__path", "region__path", "household__number", "name", "id")
        .values_list(*EXPORT_COLUMNS)
    )
    tag_labels = {tag.value: str(tag.label) for tag in ResidentTag.Tag}
    yes = _("Yes")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Roster"))
    headers = roster_headers()
    sheet.append([*headers, "社区" if headers[0] == "姓名" else "community"])
    rows = full_rows = 0
    for chunk in _chunks_of(residents.iterator(chunk_size=EXPORT_CHUNK), EXPORT_CHUNK):
        tags: dict[int, list[str]] = {}
        chunk_tags = ResidentTag.objects.filter(resident_id__in=[row[0] for row in chunk]).order_by("tag")
        for resident_id, tag in chunk_tags.values_list("resident_id", "tag"):
            tags.setdefault(resident_id, []).append(tag)
        for (pk, name, id_masked, phone_masked, building, compound, parent_level, room, head, community_name,
             full, id_token, phone_token, sensitive) in chunk:  # fmt: skip
            if parent_level == Region.Level.COMPOUND:
                building = f"{compound}/{building}"  # unambiguous, and the import reads it back
            shown_tags = [tag for tag in tags.get(pk, ()) if sensitive or tag not in ResidentTag.SENSITIVE]
            sheet.append([
                name,
                (decrypt(id_token) if id_token else "") if full else id_masked,
                (decrypt(phone_token) if phone_token else "") if full else phone_masked,
                building,
                room or "",
                yes if head else "",
                "、".join(tag_labels[tag] for tag in shown_tags),
                community_name,
            ])  # fmt: skip
            rows += 1
            full_rows += bool(full)
    output = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    workbook.save(output)
    output.seek(0)
    audit_record(
        actor=user,
        action=AuditEvent.Action.EXPORT,
        region=community,
        request=request,
        detail={
            "rows": rows,
            "masked": full_rows == 0,
            "full_rows": full_rows,
            "community": community.pk if community else None,
            "query": query,
            "building": building_id,
        },
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{_('roster')}-{community.name if community else _('all communities')}-{stamp}.xlsx"
    return RosterExport(file=output, filename=filename, rows=rows, full_rows=full_rows)


def _chunks_of(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last may be shorter); itertools.batched once Python 3.12 is the floor."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
