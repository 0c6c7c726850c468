"""Writing a campaign's results as CSV, XLSX and JSON, byte for byte the same for the same data.

* **CSV**: UTF-8 with a byte-order mark (Excel then reads Vietnamese, Chinese and Portuguese
  names right), comma-separated, CRLF line ends, one header row; the columns are
  :func:`columns` (documented in docs/exports.md).
* **XLSX**: the same columns in one sheet (header row frozen); numbers are numbers, times
  are ISO 8601 text in UTC. Written directly as Office Open XML with fixed zip dates, so
  the bytes depend on the data only.
* **JSON**: nested per section, validated by ``campaign-export.schema.json``.

Every file carries :data:`SCHEMA_VERSION`. Text cells of CSV and XLSX that begin with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading apostrophe, so a
spreadsheet shows them as text instead of running them as formulas (OWASP CSV injection).
JSON keeps values as they are. No export time appears here: only the manifest has it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

from .model import CampaignResult, CandidateResult, SectionResult

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).with_name("campaign-export.schema.json")
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
SECTION_FIELDS = ("variant", "raw", "max", "percent", "started_utc", "submitted_utc", "seconds_used",
                  "seconds_late", "accommodation", "receipt")


def neutralise(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: a leading apostrophe if it could start a formula."""
    return "'" + text if text.startswith(DANGEROUS_FIRST) else text


HEAD_COLUMNS = ("schema_version", "campaign_id", "candidate_id", "last_name", "first_name", "email", "partner",
                "country", "status")
TAIL_COLUMNS = ("total_percent", "rank", "percentile", "threshold", "threshold_version", "passed",
                "disqualified_reason")


def columns(result: CampaignResult) -> list[str]:
    per_section = [f"{s.name}_{f}" for s in result.campaign.sections for f in SECTION_FIELDS]
    return [*HEAD_COLUMNS, *per_section, *TAIL_COLUMNS]


def _utc(moment: dt.datetime | None) -> str | None:
    """``2027-03-15T08:00:00Z``: to the second (truncated), in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is not dt.timezone.utc:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.isoformat(timespec="seconds")[:19] + "Z"


# A row's values, in the order of its columns: the only definition of each column, which the
# three formats read (as tuples: a campaign of 10,000 is 460,000 of them).
def _head(result: CampaignResult, row: CandidateResult) -> tuple:
    c = row.candidate
    return (SCHEMA_VERSION, result.campaign.id, c.candidate_id, c.last_name, c.first_name, c.email, c.partner,
            c.country, row.status)


def _section(s: SectionResult) -> tuple:
    """The values of SECTION_FIELDS."""
    return (s.variant or None, s.raw, s.maximum, s.percent, _utc(s.started), _utc(s.submitted), s.seconds_used,
            s.seconds_late if s.submitted else None, s.accommodation or None, s.receipt or None)


def _tail(result: CampaignResult, row: CandidateResult) -> tuple:
    return (row.total, row.rank, row.percentile, result.campaign.threshold, result.campaign.threshold_version,
            row.passed, row.disqualified or None)


def section_values(row: CandidateResult, name: str) -> dict:
    return dict(zip(SECTION_FIELDS, _section(row.sections[name])))


def flat_row(result: CampaignResult, row: CandidateResult) -> dict:
    """One row of the CSV and XLSX, by column."""
    return dict(zip(columns(result), _flat(result, row, [_section(row.sections[s.name])
                                                         for s in result.campaign.sections])))


def _flat(result: CampaignResult, row: CandidateResult, sections: list[tuple]) -> tuple:
    return tuple(itertools.chain(_head(result, row), *sections, _tail(result, row)))


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _csv_cell(value) -> str:
    """Numbers and booleans as they are; text neutralised."""
    kind = type(value)  # (the common cases first: 10,000 candidates are half a million cells)
    if kind is str:
        return "'" + value if value.startswith(DANGEROUS_FIRST) else value
    if value is None:
        return ""
    if kind is float or isinstance(value, (bool, int, float)):
        return _number(value)
    return neutralise(str(value))


def _table(result: CampaignResult, flats: list[dict] | None, sections: list[list[tuple]] | None = None
           ) -> tuple[list[str], list]:
    """The column names and each column's values down the rows (``sections``: each row's
    :func:`_section` values, if known).

    CSV and XLSX cells are written column by column: a column holds one kind of value (text, or
    numbers, with blanks), so its cells take one short path, and a number repeated down a column
    (a maximum, a score) is written out once.
    """
    cols = columns(result)
    if flats:
        return cols, [[flat[col] for flat in flats] for col in cols]
    if sections is None:
        sections = _sections(result)
    return cols, list(zip(*map(functools.partial(_flat, result), result.rows, sections))) or [()] * len(cols)


def _sections(result: CampaignResult) -> list[list[tuple]]:
    names = [s.name for s in result.campaign.sections]
    return [[_section(row.sections[name]) for name in names] for row in result.rows]


def _kinds(values) -> set[type]:
    return set(map(type, values)) - {type(None)}


def _csv_column(values) -> list[str]:
    """:func:`_csv_cell` of each value."""
    kinds = _kinds(values)
    if kinds <= {str}:
        return ["" if v is None else ("'" + v if v.startswith(DANGEROUS_FIRST) else v) for v in values]
    if kinds <= {float} or kinds <= {int}:
        texts = {v: _number(v) for v in set(values)}  # (None -> "")
        return [texts[v] for v in values]
    return list(map(_csv_cell, values))


def to_csv(result: CampaignResult, flats: list[dict] | None = None) -> bytes:
    return _csv(*_table(result, flats))


def _csv(cols: list[str], table: list) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(cols)
    writer.writerows(zip(*map(_csv_column, table)))
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": (
        f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets><sheet name="results" sheetId="1" r:id="rId1"/>'
        '</sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC_RELS}/worksheet" '
        f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{DOC_RELS}/styles" Target="styles.xml"/>'
        '</Relationships>'),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
        '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
}
#: Characters XML 1.0 cannot carry (a name pasted from a PDF may hold some): replaced by U+FFFD.
_XML_BAD = {c: "\ufffd" for c in range(32) if c not in (9, 10, 13)}
_XML_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_cell(value) -> str:
    # Cells carry no reference: each row lists every column in order (an empty one as <c/>).
    kind = type(value)
    if value is None:
        return "<c/>"
    if kind is float:
        return f"<c><v>{_number(value)}</v></c>"
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f"<c><v>{value}</v></c>"
    if isinstance(value, float):
        return f"<c><v>{_number(value)}</v></c>"
    text = neutralise(value if kind is str else str(value))
    if _XML_SPECIAL.search(text):
        text = escape(text.translate(_XML_BAD))
    return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _xlsx_column(values) -> list[str]:
    """:func:`_xlsx_cell` of each value."""
    kinds = _kinds(values)
    if kinds <= {str}:
        texts = ["" if v is None else ("'" + v if v.startswith(DANGEROUS_FIRST) else v) for v in values]
        if _XML_SPECIAL.search("".join(texts)):  # (one search per column; escaping is for the rare cell)
            texts = [escape(t.translate(_XML_BAD)) if _XML_SPECIAL.search(t) else t for t in texts]
        return ["<c/>" if v is None else f'<c t="inlineStr"><is><t xml:space="preserve">{t}</t></is></c>'
                for v, t in zip(values, texts)]
    if kinds <= {float} or kinds <= {int}:
        cells = {v: _xlsx_cell(v) for v in set(values)}
        return [cells[v] for v in values]
    return list(map(_xlsx_cell, values))


def to_xlsx(result: CampaignResult, flats: list[dict] | None = None) -> bytes:
    """One sheet ``results``, written directly as Office Open XML: fast (10,000 candidates in a
    fraction of a second), and the same bytes for the same data (fixed zip dates, no timestamps)."""
    return _zip_xlsx(_sheet(*_table(result, flats)))


def _sheet(cols: list[str], table: list) -> bytes:
    """The worksheet's XML."""
    parts = [XML_HEAD, f'<worksheet xmlns="{MAIN}"><sheetViews><sheetView workbookViewId="0"><pane xSplit="3" '
             'ySplit="1" topLeftCell="D2" activePane="bottomRight" state="frozen"/></sheetView></sheetViews>'
             '<sheetData><row r="1">', *map(_xlsx_cell, cols), "</row>"]
    for n, cells in enumerate(zip(*map(_xlsx_column, table)), start=2):
        parts.append(f'<row r="{n}">' + "".join(cells) + "</row>")
    parts.append("</sheetData></worksheet>")
    return "".join(parts).encode()


def _zip_xlsx(sheet: bytes) -> bytes:
    out = io.BytesIO()
    # (level 1: the sheet is tens of megabytes of XML; a higher level costs seconds for a few percent)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in [*((n, (XML_HEAD + xml).encode()) for n, xml in XLSX_PARTS.items()),
                           ("xl/worksheets/sheet1.xml", sheet)]:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return out.getvalue()


def to_json_data(result: CampaignResult, sections: list[list[tuple]] | None = None) -> dict:
    """The JSON document (``sections``: each row's :func:`_section` values, if known)."""
    camp = result.campaign
    names = [s.name for s in camp.sections]
    return {
        "schema_version": SCHEMA_VERSION,
        "campaign": {"id": camp.id, "title": camp.title, "partner": camp.partner, "country": camp.country,
                     "session": camp.session, "threshold": camp.threshold,
                     "threshold_version": camp.threshold_version,
                     "sections": [{"name": s.name, "exam": s.exam, "weight": s.weight} for s in camp.sections]},
        "counts": result.counts(),
        "candidates": [{
            "candidate_id": row.candidate.candidate_id, "last_name": row.candidate.last_name,
            "first_name": row.candidate.first_name, "email": row.candidate.email,
            "partner": row.candidate.partner, "country": row.candidate.country, "status": row.status,
            "sections": {name: dict(zip(SECTION_FIELDS, values)) for name, values in zip(names, found)},
            "total_percent": row.total, "rank": row.rank, "percentile": row.percentile, "passed": row.passed,
            "disqualified_reason": row.disqualified or None,
        } for row, found in zip(result.rows, sections if sections is not None else _sections(result))],
    }


def to_json(result: CampaignResult, sections: list[list[tuple]] | None = None) -> bytes:
    # Compact (10,000 candidates are read by programs, not people); keys come in a fixed order.
    return (json.dumps(to_json_data(result, sections), ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def write_all(result: CampaignResult) -> dict[str, bytes]:
    """The data files of one export, by file name."""
    stem = f"{result.campaign.id}-results"
    sections = _sections(result)  # (once, for the three formats)
    table = _table(result, None, sections)
    # zlib lets go of the GIL: the sheet is compressed on another core while CSV and JSON are written.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xlsx") as pool:
        xlsx = pool.submit(_zip_xlsx, _sheet(*table))
        files = {f"{stem}.csv": _csv(*table), f"{stem}.json": to_json(result, sections)}
        return {**files, f"{stem}.xlsx": xlsx.result(), "campaign-export.schema.json": SCHEMA_FILE.read_bytes()}
