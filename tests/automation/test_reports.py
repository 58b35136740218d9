"""The capacity, cost and maintenance reports rendered from seeded data: the verdict block, the rightsizing and
savings tables, no Python reprs, HTML hygiene through an HTML parser, the Markdown's charts in the ops bucket, and
screenshots of each HTML report in headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from automation import capacity as capacity_job
from automation import cost as cost_job
from automation.promotion import PromotionRecord
from automation.reports import counts_in_words, duration_in_words, when_in_words, write_report
from tests.support.moto_stack import client
from tests.support.programs import OLD_IMAGE
from tests.support.seeded_reports import (
    NOW, REPORTS, capacity_report, cost_report, maintenance_report, savings_of, seeded_capacity, seeded_cost,
)


# What a Python repr of a dict, list or string looks like in text: {'cpu': ...}, ['a', ...], 'key': value
PYTHON_REPR = re.compile(r"\{'|\['|'\s*:\s|\bdatetime\.|\bTrue\b|\bFalse\b")


def verdict_lines(markdown: str) -> list[str]:
    block = markdown.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    return [line for line in block.splitlines() if line.startswith("- **")]


# ---- words ---------------------------------------------------------------------------------------------------

def test_far_or_never_is_not_within_a_year_and_durations_read_as_time():
    assert when_in_words(42702.6, NOW) == ("not within a year", None)
    assert when_in_words(None, NOW) == ("not within a year", None)
    assert when_in_words(40, NOW) == ("around 2027-01-07 (in 40 days)", date(2027, 1, 7))
    assert duration_in_words(3725) == "1 h 02 min" and duration_in_words(42.4) == "42 s"
    assert duration_in_words(125) == "2 min 05 s"
    assert counts_in_words({"same": 84, "update": 2, "create": 0}) == "2 update, 84 unchanged"
    assert counts_in_words({"delete": 1, "replace": 3, "create": 5}) == "5 create, 3 replace, 1 delete"


# ---- the verdict block ---------------------------------------------------------------------------------------

def test_the_capacity_verdict_comes_first_sorted_by_urgency_in_words_and_dates():
    report = capacity_report(with_charts=False)
    markdown = report.to_markdown()
    assert markdown.index("## Verdict") < markdown.index("## Summary") < markdown.index("## Metrics")
    lines = verdict_lines(markdown)
    severities = [re.match(r"- \*\*(\w+)\*\*", line).group(1).lower() for line in lines]
    ranks = ["critical", "warning", "ok", "info"]
    assert severities == sorted(severities, key=ranks.index), "most urgent first"
    storage = next(line for line in lines if "Database free storage falls to 10 GiB" in line)
    due = (NOW + timedelta(days=3)).date()
    assert f"around {due:%Y-%m-%d} (in 3 days)" in storage and storage.startswith("- **CRITICAL**")
    cpu = next(line for line in lines if line.startswith("- **WARNING** Pod CPU reaches 70 % of request"))
    assert f"around {(NOW + timedelta(days=20)).date():%Y-%m-%d} (in 20 days)" in cpu
    # Within a severity, the sooner first: the queue's breach is now, the storage in 3 days.
    assert lines.index(next(line for line in lines if "Queue depth p95" in line)) < lines.index(storage)
    assert "Running pods at the HPA maximum" in markdown and "No data in the window for Node CPU, Node memory" in markdown
    assert report.outcome == "CRITICAL" and not report.ok, "a critical finding fails the report"


def test_a_trend_far_from_the_threshold_does_not_hide_a_p95_already_over_it():
    report = capacity_report(with_charts=False)
    lines = verdict_lines(report.to_markdown())
    assert any(line.startswith("- **CRITICAL** Queue depth p95 already above 1,000 messages") and "72 h in the last 30 days"
               in line for line in lines)
    assert any(line.startswith("- **OK** Queue depth reaches 1,000 messages not within a year") for line in lines)


def test_never_a_huge_day_count_only_not_within_a_year():
    for render in (capacity_report(with_charts=False).to_markdown(), capacity_report(with_charts=False).to_html()):
        assert not re.search(r"\d{3,}(,\d{3})*(\.\d+)? days", render)
        assert "not within a year" in render


def test_the_cost_verdict_says_the_forecast_against_the_budget_first():
    report = cost_report(with_charts=False)
    lines = verdict_lines(report.to_markdown())
    assert lines[0].startswith("- **CRITICAL** Forecast 3,106 USD for 2026-11, 104 % of the 3,000 USD budget")
    assert any(line.startswith("- **INFO** Possible saving 328.50 USD/month: database") for line in lines)
    assert report.outcome == "CRITICAL" and not report.ok


def test_a_forecast_near_the_budget_is_a_warning_that_passes():
    review = seeded_cost()
    review.forecast_rest = 2700.0 - review.month_to_date + 80  # 2,780 of 3,000: 93 %
    report = cost_job.review_report(review, "prod", NOW, False)
    assert report.ok and report.outcome == "WARNING"
    assert verdict_lines(report.to_markdown())[0].startswith("- **WARNING** Forecast 2,780 USD for 2026-11, 93 %")


def test_diagnostics_go_to_a_footer_after_everything_else():
    for report, calls in ((capacity_report(with_charts=False), "GetMetricData calls: 1"),
                          (cost_report(with_charts=False), "GetCostAndUsage calls: 3")):
        markdown, page = report.to_markdown(), report.to_html()
        assert calls not in markdown.split("---\n", 1)[0] and calls in markdown.rsplit("---", 1)[1]
        assert calls in page.split("<footer>", 1)[1] and calls not in page.split("<footer>", 1)[0]


# ---- tables --------------------------------------------------------------------------------------------------

def test_the_rightsizing_table_shows_current_against_recommended_with_the_saving():
    result = seeded_capacity()
    savings = savings_of(result)
    markdown = capacity_job.report_of(result, "prod", NOW, savings, False).to_markdown()
    table = markdown.split("## Rightsizing", 1)[1].split("\n## ", 1)[0]
    current, recommended = result.rightsizing["current"], result.rightsizing["recommended"]
    assert f"| CPU request | {current['requests']['cpu']} | {recommended['requests']['cpu']} | change |" in table
    assert f"| memory request | {current['requests']['memory']} | {recommended['requests']['memory']} |" in table
    assert f"| memory limit | {current['limits']['memory']} | {recommended['limits']['memory']} |" in table
    assert f"| HPA maximum replicas | {current['maxReplicas']} | {recommended['maxReplicas']} | change |" in table
    pods, database = savings
    assert pods["resource"] == "app pods (requests)" and pods["monthlySavingUsd"] > 0
    assert f"| monthly saving of the requests (USD) | - | - | {pods['monthlySavingUsd']:,.2f} |" in table
    savings_rows = markdown.split("## Savings", 1)[1].split("\n## ", 1)[0]
    assert (f"| app pods (requests) | CPU {current['requests']['cpu']} and memory {current['requests']['memory']} | "
            f"CPU {recommended['requests']['cpu']} and memory {recommended['requests']['memory']} |") in savings_rows
    assert "| database (db.r6g.xlarge, p95 CPU 12%) | db.r6g.xlarge | db.r6g.large | 328.50 |" in savings_rows
    total = round(pods["monthlySavingUsd"] + database["monthlySavingUsd"], 2)
    assert f"| total |  |  | {total:,.2f} |" in savings_rows


def test_the_cost_report_has_services_by_spend_the_month_to_date_cost_by_tag_and_the_forecast_note():
    markdown = cost_report(with_charts=False).to_markdown()
    services = markdown.split("## Cost by service (USD)", 1)[1].split("\n## ", 1)[0]
    assert "| service | 2026-08 | 2026-09 | 2026-10 | 2026-11 (month to date) |" in services
    rows = [line.split(" | ")[0].strip("| ") for line in services.splitlines() if line.startswith("| Amazon")]
    assert rows == ["Amazon Relational Database Service", "Amazon Elastic Kubernetes Service", "Amazon S3"]
    assert "## Cost by tag, whole account (USD)" in markdown and "| Environment | staging | 400.00 |" in markdown
    assert ("forecast this month: 3,105.80 USD (month to date + 207.05 forecast from today); month to date plus "
            "Cost Explorer's forecast from today to the month's end") in markdown


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_no_python_repr_reaches_a_reader(kind):
    report = REPORTS[kind]()
    for render in (report.to_markdown(), report.to_html()):
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", render)
        found = PYTHON_REPR.findall(text)
        assert not found, f"{kind}: Python repr in the report: {found}"


def test_the_maintenance_record_says_changes_in_words_and_each_step_how_long_it_took():
    markdown = maintenance_report().to_markdown()
    assert "update 7 succeeded: 2 update, 1 replace, 84 unchanged" in markdown
    assert "| step | outcome | started | took | detail |" in markdown
    assert "| backup | ok |" in markdown and "| 14 min 05 s |" in markdown and "| 1 h 02 min |" in markdown
    assert "run took 1 h 17 min" in markdown


def test_a_failed_promotion_puts_its_problems_in_the_verdict_block():
    record = PromotionRecord(OLD_IMAGE, "sha256:abc", "staging", "prod", "alice@laptop",
                             problems=["staging soak breached: p95 3.2 s over 2 s"])
    markdown = record.report(NOW).to_markdown()
    assert verdict_lines(markdown) == ["- **CRITICAL** Promotion of sha256:abc to prod failed",
                                       "- **CRITICAL** problem: staging soak breached: p95 3.2 s over 2 s"]
    assert "## Verdict: CRITICAL" in markdown


# ---- HTML hygiene --------------------------------------------------------------------------------------------

class Page(HTMLParser):
    """What the hygiene checks need from a page: attributes of html/meta/img, headings before figures, tables."""

    def __init__(self):
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.metas: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.headings: list[str] = []
        self.figures_after: list[str | None] = []
        self.tables: list[dict[str, int]] = []
        self.links: list[str] = []
        self.style = ""
        self._heading: str | None = None
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self._in.append(tag)
        if tag == "html":
            self.html_attrs = attributes
        elif tag == "meta":
            self.metas.append(attributes)
        elif tag == "img":
            self.images.append(attributes)
        elif tag in ("h1", "h2", "h3"):
            self._heading = ""
        elif tag == "figure":
            self.figures_after.append(self.headings[-1] if self.headings else None)
        elif tag == "table":
            self.tables.append({"caption": 0, "th_scoped": 0, "thead": 0})
        elif tag == "caption":
            self.tables[-1]["caption"] += 1
        elif tag == "thead":
            self.tables[-1]["thead"] += 1
        elif tag == "th" and attributes.get("scope") == "col":
            self.tables[-1]["th_scoped"] += 1
        for name in ("href", "src"):
            if attributes.get(name):
                self.links.append(attributes[name])

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(self._heading)
            self._heading = None
        if self._in:
            self._in.pop()

    def handle_data(self, data):
        if self._heading is not None:
            self._heading += data
        if self._in and self._in[-1] == "style":
            self.style += data


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_the_html_report_is_accessible_and_self_contained(kind):
    from matplotlib import image as images

    report = REPORTS[kind]()
    page = Page()
    page.feed(report.to_html())
    assert page.html_attrs.get("lang") == "en"
    assert any(m.get("name") == "viewport" and "width=device-width" in (m.get("content") or "") for m in page.metas)
    assert page.headings[0] == report.title and page.headings[1].startswith("Verdict: ")
    assert all(table["caption"] == 1 and table["thead"] == 1 and table["th_scoped"] > 0 for table in page.tables)
    assert len(page.tables) == len(report.tables)
    assert all(link.startswith("data:image/png;base64,") for link in page.links), "nothing fetched from elsewhere"
    assert re.search(r"img\{max-width:100%;height:auto\}", page.style), "images scale down to the page"
    assert len(page.images) == len(report.charts) == len(page.figures_after)
    for image, chart, heading in zip(page.images, report.charts, page.figures_after):
        assert heading == chart.title, "a heading per chart"
        assert image["alt"] == chart.alt and (image["width"], image["height"]) == tuple(map(str, chart.size))
        pixels = images.imread(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])), format="png")
        assert (pixels.shape[1], pixels.shape[0]) == chart.size, "the inline image decodes to the size it declares"


def test_chart_alt_text_states_the_finding():
    charts = {chart.title: chart for chart in capacity_report().charts}
    assert "Queue depth p95 already above 1,000 messages" in charts["Queue depth (messages)"].alt
    assert "Database free storage falls to 10 GiB around" in charts["Database free storage (GiB)"].alt
    assert "Node CPU (%)" not in charts, "no chart without data"
    cost_chart = cost_report().charts[0]
    assert "Forecast 3,106 USD for 2026-11, 104 % of the 3,000 USD budget" in cost_chart.alt
    width, height = cost_chart.size
    assert width >= 1200 and height >= 500, "readable at 150 dpi"


# ---- the ops bucket ------------------------------------------------------------------------------------------

def test_the_markdown_in_the_ops_bucket_finds_its_charts_beside_it(aws_env, tmp_path):
    s3 = client("s3")
    s3.create_bucket(Bucket="ops")
    report = capacity_report()
    written = write_report(report, ("md",), tmp_path, s3, "ops")
    assert written.upload_failure is None
    markdown = s3.get_object(Bucket="ops", Key=f"capacity/capacity-{report.stamp}.md")["Body"].read().decode()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(links) == len(report.charts) > 0
    for link in links:
        assert "/" not in link, "a link relative to the Markdown"
        image = s3.get_object(Bucket="ops", Key=f"capacity/{link}")
        assert image["ContentType"] == "image/png" and image["Body"].read().startswith(b"\x89PNG\r\n\x1a\n")


# ---- in a browser --------------------------------------------------------------------------------------------

def browser() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)


@pytest.mark.slow  # an external tool: the first start of Chromium takes seconds
@pytest.mark.skipif(browser() is None, reason="no Chromium installed: `apt-get install -y chromium` (README, Reports)")
@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_each_html_report_renders_in_headless_chromium(kind, tmp_path):
    from matplotlib import image as images

    page = tmp_path / f"{kind}.html"
    page.write_text(REPORTS[kind]().to_html(), encoding="utf-8")
    shot = tmp_path / f"{kind}.png"
    profile = tmp_path / "profile"
    result = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--window-size=1280,2400", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0 and "bytes written to file" in result.stderr, result.stderr[-2000:]
    # The reports run no script: any message on the page's console (a blocked or broken resource, a parse
    # error) is an error. Chromium's own D-Bus and GPU complaints of a headless machine are not about the page.
    page_messages = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "net::ERR_" in line]
    assert not page_messages, page_messages
    pixels = images.imread(str(shot))
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    assert pixels.std() > 0.05, "the screenshot shows a page, not a blank"
