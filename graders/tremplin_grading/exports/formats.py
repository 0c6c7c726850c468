"""Writing a campaign's results as CSV, XLSX and JSON, byte for byte the same for the same data.

* **CSV**: UTF-8 with a byte-order mark (Excel then reads Vietnamese, Chinese and Portuguese
  names right), comma-separated, CRLF line ends, one header row; the columns are
  :func:`columns` (documented in docs/exports.md).
* **XLSX**: the same columns in one sheet (header row frozen); numbers are numbers, times
  are ISO 8601 text in UTC. Written directly as Office Open XML with fixed zip dates, so
  the bytes depend on the data only.
* **JSON**: nested per section, validated by ``campaign-export.schema.json``.

Every file carries :data:`SCHEMA_VERSION`. CSV text cells that begin with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return get a leading apostrophe, so a spreadsheet shows them as text
instead of running them as formulas (OWASP CSV injection). XLSX text cells are inline strings,
which no spreadsheet runs: they keep their text (``+15 min`` stays ``+15 min``), as JSON does.
No export time appears here: only the manifest has it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from json.encoder import encode_basestring
from pathlib import Path

from ..forked import forked
from .model import CampaignResult, CampaignTable, SectionColumns, seconds_between

SCHEMA_VERSION = "1.1"
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


def columns(result: CampaignResult | CampaignTable) -> list[str]:
    per_section = [f"{s.name}_{f}" for s in result.campaign.sections for f in SECTION_FIELDS]
    return [*HEAD_COLUMNS, *per_section, *TAIL_COLUMNS]


def _utc(moment: dt.datetime | None) -> str | None:
    """``2027-03-15T08:00:00Z``: to the second (truncated), in UTC."""
    if moment is None:
        return None
    if moment.tzinfo is not dt.timezone.utc:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def _utcs(moments: list[dt.datetime | None]) -> list[str | None]:
    """:func:`_utc` of each (a campaign's 60,000 times: the common case written out here)."""
    utc = dt.timezone.utc
    return [None if m is None else m.isoformat()[:19] + "Z" if m.tzinfo is utc else _utc(m) for m in moments]


# Each column's values down the rows: the only definition of each column, which the three formats
# read (column by column: a campaign of 10,000 is 460,000 cells, and a column holds one kind of
# value, so its cells take one short path).
def _head(table: CampaignTable) -> list[list]:
    n = len(table.candidates)
    people = list(zip(*((c.candidate_id, c.last_name, c.first_name, c.email, c.partner, c.country)
                        for c in table.candidates))) or [()] * 6
    return [[SCHEMA_VERSION] * n, [table.campaign.id] * n, *map(list, people), table.status]


def _section(c: SectionColumns) -> list[list]:
    """The values of SECTION_FIELDS."""
    return [[v or None for v in c.variant], c.raw, c.maximum, c.percents(), _utcs(c.started), _utcs(c.submitted),
            list(map(seconds_between, c.started, c.submitted)),
            [late if at else None for late, at in zip(c.seconds_late, c.submitted)],
            [v or None for v in c.accommodation], [v or None for v in c.receipt]]


def _tail(table: CampaignTable) -> list[list]:
    n = len(table.candidates)
    return [table.total, table.rank, table.percentile, [table.campaign.threshold] * n,
            [table.campaign.threshold_version] * n, table.passed, [v or None for v in table.disqualified]]


def _table(table: CampaignTable) -> tuple[list[str], list[list], list[list[list]]]:
    """The column names, each column's values, and each section's columns (for JSON)."""
    sections = [_section(table.sections[s.name]) for s in table.campaign.sections]
    return columns(table), [*_head(table), *(col for cols in sections for col in cols), *_tail(table)], sections


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


def to_csv(result: CampaignResult) -> bytes:
    return _csv(*_table(CampaignTable.of(result))[:2])


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
_XML_SPECIAL_BUT_1F = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1e]")
_PRESERVE = ' xml:space="preserve"'


def _loose_spaces(text: str) -> bool:
    """Text whose white space a spreadsheet may drop or fold without ``xml:space="preserve"``: leading or
    trailing spaces, runs of spaces, tabs, line breaks (XML's white space; ``\x1f`` separates a
    column's cells when a whole column is asked at once)."""
    return (text[:1] == " " or text[-1:] == " " or " \x1f" in text or "\x1f " in text or "  " in text
            or "\t" in text or "\n" in text or "\r" in text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    return _xlsx_column([value if kind is str else str(value)])[0]


def _xlsx_column(values) -> list[str]:
    """:func:`_xlsx_cell` of each value."""
    kinds = _kinds(values)
    if kinds <= {str}:
        texts = ["" if v is None else v for v in values]  # (an inline string is never a formula)
        joined = "\x1f".join(texts)  # (one search per column: escaping and spaces are for the rare cell)
        if _XML_SPECIAL_BUT_1F.search(joined) or joined.count("\x1f") >= len(texts):
            texts = [_escape(t.translate(_XML_BAD)) if _XML_SPECIAL.search(t) else t for t in texts]
        if _loose_spaces(joined):
            return ["<c/>" if v is None else f'<c t="inlineStr"><is><t{_PRESERVE if _loose_spaces(t) else ""}>{t}'
                    '</t></is></c>' for v, t in zip(values, texts)]
        return ["<c/>" if v is None else f'<c t="inlineStr"><is><t>{t}</t></is></c>'
                for v, t in zip(values, texts)]
    if kinds <= {float} or kinds <= {int}:
        cells = {v: _xlsx_cell(v) for v in set(values)}
        return [cells[v] for v in values]
    return list(map(_xlsx_cell, values))


def to_xlsx(result: CampaignResult) -> bytes:
    """One sheet ``results``, written directly as Office Open XML: fast (10,000 candidates in a
    fraction of a second), and the same bytes for the same data (fixed zip dates, no timestamps)."""
    return _zip_xlsx(_sheet(*_table(CampaignTable.of(result))[:2]))


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


#: The JSON candidates' keys around their sections (the CSV's columns but the campaign's own).
JSON_HEAD = HEAD_COLUMNS[2:]
JSON_TAIL = ("total_percent", "rank", "percentile", "passed", "disqualified_reason")
JSON_TAIL_INDEX = [TAIL_COLUMNS.index(c) for c in JSON_TAIL]


def _json_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _json_value(value) -> str:
    """``json.dumps(value, ensure_ascii=False)`` of a cell's value."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return _json_float(value)
    if kind is int:
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def _json_column(values) -> list[str]:
    """:func:`_json_value` of each value."""
    kinds = _kinds(values)
    if kinds <= {str}:
        return ["null" if v is None else encode_basestring(v) for v in values]
    if kinds <= {int}:
        texts = {v: _json_value(v) for v in set(values)}
        return [texts[v] for v in values]
    if kinds <= {float}:  # (v - v is 0 for a finite number, NaN for infinities and NaN)
        return ["null" if v is None else float.__repr__(v) if v - v == 0 else _json_float(v) for v in values]
    return list(map(_json_value, values))


def _json(table: CampaignTable, values: list[list], sections: list[list[list]]) -> bytes:
    """The JSON document: what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes of
    the campaign, the counts and a list of candidates (keys in a fixed order, sections nested), each
    candidate written from its columns' texts through one template."""
    camp = table.campaign
    head = json.dumps({
        "schema_version": SCHEMA_VERSION,
        "campaign": {"id": camp.id, "title": camp.title, "partner": camp.partner, "country": camp.country,
                     "session": camp.session, "threshold": camp.threshold,
                     "threshold_version": camp.threshold_version,
                     "sections": [{"name": s.name, "exam": s.exam, "weight": s.weight} for s in camp.sections]},
        "counts": table.counts()}, ensure_ascii=False, separators=(",", ":"))

    def keys(names):
        return ",".join(f"{encode_basestring(n)}:%s" for n in names)

    template = ("{" + keys(JSON_HEAD) + ',"sections":{'
                + ",".join(f"{encode_basestring(s.name)}:{{{keys(SECTION_FIELDS)}}}" for s in camp.sections)
                + "}," + keys(JSON_TAIL) + "}")
    head_columns = values[2:len(HEAD_COLUMNS)]  # (schema version and campaign id: once, above)
    tail = values[-len(TAIL_COLUMNS):]
    cells = [*head_columns, *(col for cols in sections for col in cols), *(tail[i] for i in JSON_TAIL_INDEX)]
    rows = ",".join(template % row for row in zip(*map(_json_column, cells)))
    return f'{head[:-1]},"candidates":[{rows}]}}\n'.encode()


def to_json(result: CampaignResult) -> bytes:
    # Compact (10,000 candidates are read by programs, not people); keys come in a fixed order.
    table = CampaignTable.of(result)
    _, values, sections = _table(table)
    return _json(table, values, sections)


def write_all(result: CampaignResult) -> dict[str, bytes]:
    """The data files of one export, by file name."""
    return write_table(CampaignTable.of(result))


def write_table(table: CampaignTable, *, processes: bool = False) -> dict[str, bytes]:
    """The data files of one export of a finished table, by file name.

    With ``processes`` (a process with one thread: see :mod:`tremplin_grading.forked`), the XLSX
    file, half of the work, is written by a forked copy of this process while this one writes CSV
    and JSON: on two cores, a campaign of 10,000 candidates in about half the time. The bytes are the
    same either way.
    """
    stem = f"{table.campaign.id}-results"
    names, values, sections = _table(table)
    xlsx = forked(lambda: _xlsx(names, values)) if processes else None
    files = {f"{stem}.csv": _csv(names, values), f"{stem}.json": _json(table, values, sections)}
    return {**files, f"{stem}.xlsx": xlsx() if xlsx else _xlsx(names, values),
            "campaign-export.schema.json": SCHEMA_FILE.read_bytes()}


def _xlsx(names: list[str], values: list[list]) -> bytes:
    return _zip_xlsx(_sheet(names, values))
