"""Reports every command can write as Markdown, HTML (charts inline) and JSON, locally and to the ops bucket."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from automation.errors import BadInput

REPORT_DIR_ENV = "SCRAPER_OPS_REPORT_DIR"
FORMATS = ("md", "html", "json")
CONTENT_TYPES = {"md": "text/markdown", "html": "text/html", "json": "application/json"}


def default_report_dir() -> Path:
    return Path(os.environ.get(REPORT_DIR_ENV) or "reports")


def check_output_dir(directory: Path, what: str) -> None:
    """Before any work: `directory` must be a directory this user can create or write into (`what` names the
    option or variable it came from)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == directory and not directory.is_dir():
        raise BadInput(f"{what} {directory}: is a file, not a directory; give a directory (created when missing)")
    if not existing.is_dir():
        raise BadInput(f"{what} {directory}: {existing} is a file, so no directory can be made under it; "
                       "give a directory (created when missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInput(f"{what} {directory}: {existing} is not writable by this user; give a writable directory")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Severity of a finding, most urgent first. Capacity: a threshold reached within CRITICAL_DAYS (or a p95 already
# over it) is critical, within WARNING_DAYS (or a peak already over it) a warning. Critical findings fail the
# report (exit 1); warnings are reported and exit 0 (README, "Reading a report").
SEVERITIES = ("critical", "warning", "ok", "info")
CRITICAL_DAYS = 7
WARNING_DAYS = 30
HORIZON_DAYS = 365  # further than this a projection says "not within a year"


@dataclass(frozen=True)
class Verdict:
    """One finding in words, with the date it is due (a threshold crossing) when it has one."""

    severity: str
    text: str
    due: date | None = None
    subject: str = ""  # what it is about (a metric key): charts state their subject's finding

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "text": self.text, "due": self.due.isoformat() if self.due else None}


def by_urgency(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Most severe first; within a severity, the soonest due first, undated ones after the dated."""
    return sorted(verdicts, key=lambda v: (SEVERITIES.index(v.severity), v.due is None, v.due or date.min))


def severity_in(days: float | None) -> str:
    if days is None or days > WARNING_DAYS:
        return "ok"
    return "critical" if days < CRITICAL_DAYS else "warning"


def when_in_words(days: float | None, now: datetime) -> tuple[str, date | None]:
    """A projection as a date and a distance ("around 2027-01-07 (in 40 days)"), or "not within a year"."""
    if days is None or days > HORIZON_DAYS:
        return "not within a year", None
    due = (now + timedelta(days=days)).date()
    if days < 1:
        return f"today ({due:%Y-%m-%d})", due
    return f"around {due:%Y-%m-%d} (in {days:.0f} days)", due


def duration_in_words(seconds: float | None) -> str:
    """`3725` -> "1 h 02 min"; `42.4` -> "42 s"; None -> "-"."""
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def between_in_words(started: str, ended: str) -> str:
    """The duration between two ISO timestamps of a record."""
    try:
        return duration_in_words((datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds())
    except (TypeError, ValueError):
        return "-"


def counts_in_words(counts: dict[str, int]) -> str:
    """Pulumi's change counts as words: {"same": 84, "update": 2} -> "2 update, 84 unchanged"."""
    order = ("create", "update", "replace", "delete")
    ops = sorted((op for op in counts if op != "same" and counts[op]), key=lambda op: (op not in order,
                                                                                       order.index(op) if op in order else 0, op))
    changed = [f"{counts[op]} {op}" for op in ops]
    same = [f"{counts['same']} unchanged"] if counts.get("same") else []
    return ", ".join(changed + same) or "no resources"


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]]
    caption: str = ""  # what the table shows and how its figures were reached; the title when empty


@dataclass
class Chart:
    title: str
    png: bytes
    alt: str  # the finding the chart shows, in words (screen readers, and where the image does not load)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height from the PNG header (IHDR), so the page reserves the space before it decodes."""
        return int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big")


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;max-width:1100px;line-height:1.4;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em;display:block;overflow-x:auto}"
    "caption{text-align:left;font-style:italic;padding:.3em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%;height:auto}figure{margin:1em 0}"
    ".verdicts{list-style:none;padding:0}.verdicts li{margin:.3em 0;padding:.4em .6em;border-left:6px solid #999}"
    ".critical{border-color:#c00!important;background:#fdecec}.warning{border-color:#d80!important;background:#fff6e0}"
    ".ok{border-color:#080!important}.info{border-color:#06c!important}"
    ".badge{font-weight:bold;text-transform:uppercase;margin-right:.5em}"
    "footer{margin-top:2em;border-top:1px solid #ccc;color:#555;font-size:.9em}"
)


@dataclass
class Report:
    kind: str  # also the ops-bucket prefix: metrics, backups, dr, capacity, cost, maintenance
    title: str
    stack: str
    ok: bool
    data: dict[str, Any]
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    created: datetime = field(default_factory=utcnow)
    verdicts: list[Verdict] = field(default_factory=list)  # the verdict block; the outcome alone when empty
    footer: list[str] = field(default_factory=list)  # diagnostics: API call counts and the like

    @property
    def stamp(self) -> str:
        return self.created.strftime("%Y%m%dT%H%M%SZ")

    @property
    def findings(self) -> list[Verdict]:
        if self.verdicts:
            return by_urgency(self.verdicts)
        return [Verdict("ok" if self.ok else "critical", f"{self.title}: {'succeeded' if self.ok else 'failed'}")]

    @property
    def outcome(self) -> str:
        """CRITICAL or FAILED (exit 1), WARNING or OK (exit 0)."""
        severities = {v.severity for v in self.findings}
        if not self.ok:
            return "CRITICAL" if "critical" in severities else "FAILED"
        return "WARNING" if "warning" in severities else "OK"

    def _tally(self) -> str:
        critical = sum(1 for v in self.findings if v.severity == "critical")
        warnings = sum(1 for v in self.findings if v.severity == "warning")
        return f"{critical} critical, {warnings} warning{'' if warnings == 1 else 's'}"

    def to_json(self) -> str:
        document = {
            "kind": self.kind,
            "title": self.title,
            "stack": self.stack,
            "ok": self.ok,
            "outcome": self.outcome,
            "verdicts": [v.to_json() for v in self.findings],
            "created": self.created.isoformat(),
            **self.data,
        }
        return json.dumps(document, indent=2, default=str) + "\n"

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", f"Stack `{self.stack}`, {self.created:%Y-%m-%d %H:%M UTC}.", "",
                 f"## Verdict: {self.outcome}", "", f"{self._tally()}.", ""]
        lines += [f"- **{v.severity.upper()}** {_md(v.text)}" for v in self.findings]
        if self.summary:
            lines += ["", "## Summary", ""] + [f"- {_md(line)}" for line in self.summary]
        for table in self.tables:
            lines += ["", f"## {table.title}", "", "| " + " | ".join(_md(str(c)) for c in table.columns) + " |",
                      "|" + "".join("---:|" if _numeric(table, i) else "---|" for i in range(len(table.columns)))]
            lines += ["| " + " | ".join(_md(_cell(v)) for v in row) + " |" for row in table.rows]
            if table.caption:
                lines += ["", f"*{_md(table.caption)}*"]
        for chart in self.charts:
            lines += ["", f"## {chart.title}", "", f"![{_md(chart.alt)}]({self._chart_name(chart.title)})"]
        if self.footer:
            lines += ["", "---", "", "Diagnostics: " + "; ".join(_md(line) for line in self.footer) + "."]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        escape = html.escape
        parts = [
            "<!doctype html>",
            "<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{escape(self.title)} ({escape(self.stack)}): {self.outcome}</title>",
            f"<style>{STYLE}</style>",
            "</head><body><main>",
            f"<h1>{escape(self.title)}</h1>",
            f"<p>Stack <code>{escape(self.stack)}</code>, {self.created:%Y-%m-%d %H:%M UTC}.</p>",
            f"<section aria-labelledby='verdict'><h2 id='verdict'>Verdict: {self.outcome}</h2>"
            f"<p>{escape(self._tally())}.</p><ul class='verdicts'>",
            *[f"<li class='{v.severity}'><span class='badge'>{v.severity}</span>{escape(v.text)}</li>"
              for v in self.findings],
            "</ul></section>",
        ]
        if self.summary:
            parts.append("<section><h2>Summary</h2><ul>" + "".join(f"<li>{escape(s)}</li>" for s in self.summary)
                         + "</ul></section>")
        for table in self.tables:
            parts.append(f"<section><h2>{escape(table.title)}</h2><table>"
                         f"<caption>{escape(table.caption or table.title)}</caption><thead><tr>")
            parts.append("".join(f"<th scope='col'>{escape(str(c))}</th>" for c in table.columns) + "</tr></thead><tbody>")
            for row in table.rows:
                parts.append("<tr>" + "".join(
                    f"<td class='n'>{escape(_cell(v))}</td>" if _is_number(v) else f"<td>{escape(_cell(v))}</td>"
                    for v in row) + "</tr>")
            parts.append("</tbody></table></section>")
        for chart in self.charts:
            width, height = chart.size
            encoded = base64.b64encode(chart.png).decode()
            parts.append(f"<section><h2>{escape(chart.title)}</h2><figure>"
                         f"<img alt='{escape(chart.alt)}' width='{width}' height='{height}' "
                         f"src='data:image/png;base64,{encoded}'>"
                         f"<figcaption>{escape(chart.alt)}</figcaption></figure></section>")
        parts.append("</main>")
        if self.footer:
            parts.append("<footer><h2>Diagnostics</h2><ul>" + "".join(f"<li>{escape(line)}</li>" for line in self.footer)
                         + "</ul></footer>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def _chart_name(self, title: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        return f"{self.kind}-{self.stamp}-{slug}.png"

    def render(self, fmt: str) -> str:
        return {"md": self.to_markdown, "html": self.to_html, "json": self.to_json}[fmt]()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric(table: Table, column: int) -> bool:
    values = [row[column] for row in table.rows if row[column] is not None]
    return bool(values) and all(_is_number(v) for v in values)


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or list item: pipes escaped, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def _cell(value: Any) -> str:
    """A value as a reader reads it: numbers with separators, mappings and lists as words, never a Python repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_cell(item)}" for key, item in value.items()) or "-"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_cell(item) for item in value) or "-"
    return str(value)


class Written(list):
    """Where a report went (local paths, then s3:// URLs), and why the upload failed when it did."""

    upload_failure: str | None = None


def write_report(
    report: Report,
    formats: Sequence[str] = FORMATS,
    out_dir: Path | None = None,
    s3: Any = None,
    bucket: str | None = None,
    basename: str | None = None,
) -> Written:
    """Write the report in each format locally (and its charts for Markdown), then upload it to the ops bucket.

    Every local file is written before the first upload, so a missing bucket or no credentials loses nothing:
    the failure is returned in `upload_failure`, naming the local files.
    """
    out_dir = out_dir or default_report_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    name = basename or f"{report.kind}-{report.stamp}"
    written = Written()
    bodies = {fmt: report.render(fmt) for fmt in formats}
    for fmt, body in bodies.items():
        path = out_dir / f"{name}.{fmt}"
        path.write_text(body, encoding="utf-8")
        written.append(str(path))
    charts = {report._chart_name(chart.title): chart.png for chart in report.charts} if "md" in formats else {}
    for chart_name, png in charts.items():
        (out_dir / chart_name).write_bytes(png)
        written.append(str(out_dir / chart_name))
    if s3 is None or not bucket:
        return written
    local = list(written)
    # The Markdown links its charts by relative name: they go beside it, so the links resolve in the bucket too.
    uploads = [*((f"{name}.{fmt}", body.encode(), CONTENT_TYPES[fmt]) for fmt, body in bodies.items()),
               *((chart_name, png, "image/png") for chart_name, png in charts.items())]
    for file_name, content, content_type in uploads:
        key = f"{report.kind}/{file_name}"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=content, ContentType=content_type)
        except (BotoCoreError, ClientError) as error:
            written.upload_failure = (f"ops-bucket upload failed: s3://{bucket}/{key}: {error}; "
                                      f"the report is only in the local files: {', '.join(local)}")
            break
        written.append(f"s3://{bucket}/{key}")
    return written


def latest_report(s3: Any, bucket: str, kind: str) -> tuple[dict[str, Any], datetime] | None:
    """The newest JSON report of a kind in the ops bucket, with when it was written."""
    newest = None
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{kind}/"):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json") and (newest is None or item["LastModified"] > newest["LastModified"]):
                newest = item
    if newest is None:
        return None
    body = s3.get_object(Bucket=bucket, Key=newest["Key"])["Body"].read()
    return json.loads(body), newest["LastModified"]
