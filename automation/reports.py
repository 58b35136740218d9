"""Reports every command can write as Markdown, HTML (charts inline) and JSON, locally and to the ops bucket."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
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


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]]


@dataclass
class Report:
    kind: str  # also the ops-bucket prefix: metrics, backups, dr, capacity, cost, maintenance
    title: str
    stack: str
    ok: bool
    data: dict[str, Any]
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)  # caption -> PNG
    created: datetime = field(default_factory=utcnow)

    @property
    def stamp(self) -> str:
        return self.created.strftime("%Y%m%dT%H%M%SZ")

    def to_json(self) -> str:
        document = {
            "kind": self.kind,
            "title": self.title,
            "stack": self.stack,
            "ok": self.ok,
            "created": self.created.isoformat(),
            **self.data,
        }
        return json.dumps(document, indent=2, default=str) + "\n"

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", f"Stack `{self.stack}`, {self.created:%Y-%m-%d %H:%M UTC}. "
                 f"Outcome: **{'OK' if self.ok else 'FAILED'}**.", ""]
        lines += [f"- {line}" for line in self.summary]
        for table in self.tables:
            lines += ["", f"## {table.title}", "", "| " + " | ".join(table.columns) + " |",
                      "|" + "---|" * len(table.columns)]
            lines += ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |" for row in table.rows]
        for caption in self.charts:
            lines += ["", f"![{caption}]({self._chart_name(caption)})"]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.ok{color:#070}.bad{color:#a00}</style>",
            "</head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
            f"<p>Stack <code>{html.escape(self.stack)}</code>, {self.created:%Y-%m-%d %H:%M UTC}. Outcome: "
            f"<b class='{'ok' if self.ok else 'bad'}'>{'OK' if self.ok else 'FAILED'}</b>.</p>",
        ]
        if self.summary:
            parts.append("<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in self.summary) + "</ul>")
        for table in self.tables:
            parts.append(f"<h2>{html.escape(table.title)}</h2><table><tr>")
            parts.append("".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns) + "</tr>")
            for row in table.rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
            parts.append("</table>")
        for caption, png in self.charts.items():
            encoded = base64.b64encode(png).decode()
            parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{encoded}'>"
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def _chart_name(self, caption: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")
        return f"{self.kind}-{self.stamp}-{slug}.png"

    def render(self, fmt: str) -> str:
        return {"md": self.to_markdown, "html": self.to_html, "json": self.to_json}[fmt]()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
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
    if "md" in formats:
        for caption, png in report.charts.items():
            chart = out_dir / report._chart_name(caption)
            chart.write_bytes(png)
            written.append(str(chart))
    if s3 is None or not bucket:
        return written
    local = list(written)
    for fmt, body in bodies.items():
        key = f"{report.kind}/{name}.{fmt}"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType=CONTENT_TYPES[fmt])
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
