"""The typed stack config: the guide's defaults, and one clear line per bad value."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, image_tag, load_from_pulumi, parse_stack_config
from tests.support.programs import REPO_ROOT, prod_config, with_changes


def problems_of(**changes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(with_changes(prod_config(), **changes))
    return caught.value.problems


def test_prod_config_carries_the_guides_thresholds():
    config = parse_stack_config(prod_config())
    assert config.autoscaling.cpu_target_percent == 70
    assert config.autoscaling.memory_target_percent == 80
    assert config.autoscaling.queue_depth_target == 1000
    assert config.autoscaling.scale_up_stabilization_seconds == 300
    assert config.slo.latency_p95_seconds == 2
    assert config.slo.scraper_success_percent == 95
    assert config.slo.availability_percent == 99.9
    assert config.maintenance.window_start == "0 2 * * 0#1"
    assert config.maintenance.duration_minutes == 120
    assert (config.region, config.dr_region) == ("us-east-1", "us-west-2")


def test_defaults_are_the_guides_values_when_keys_are_left_out():
    config = parse_stack_config(with_changes(prod_config(), autoscaling=None, slo=None, maintenance=None))
    assert (config.autoscaling.cpu_target_percent, config.autoscaling.memory_target_percent) == (70, 80)
    assert config.autoscaling.queue_depth_target == 1000
    assert config.slo.latency_p95_seconds == 2.0
    assert config.maintenance.duration_minutes == 120


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"autoscaling": {"minReplicas": 6, "maxReplicas": 4}},
            "social-media-scraper:autoscaling.maxReplicas = 4: must be >= minReplicas (6)",
        ),
        (
            {"autoscaling": {"minReplicas": 0}},
            "social-media-scraper:autoscaling.minReplicas = 0: Input should be greater than or equal to 1",
        ),
        (
            {"autoscaling": {"cpuTargetPercent": 150}},
            "social-media-scraper:autoscaling.cpuTargetPercent = 150: Input should be less than or equal to 100",
        ),
        (
            {"autoscaling": {"memoryTargetPercent": 0}},
            "social-media-scraper:autoscaling.memoryTargetPercent = 0: Input should be greater than or equal to 1",
        ),
        (
            {"drRegion": "us-east-1"},
            "social-media-scraper:drRegion = \"us-east-1\": must differ from aws:region (us-east-1)",
        ),
        ({"drRegion": "mars-north-1"}, "social-media-scraper:drRegion = \"mars-north-1\": not an AWS region"),
        ({"aws:region": "nowhere-1"}, "aws:region = \"nowhere-1\": not an AWS region"),
        (
            {"schedules": {"backup": "61 * * * *"}},
            "social-media-scraper:schedules.backup = \"61 * * * *\": must be a standard 5-field cron expression",
        ),
        (
            {"schedules": {"smokeTests": "every 5 minutes"}},
            "social-media-scraper:schedules.smokeTests = \"every 5 minutes\": must be a standard 5-field cron",
        ),
        (
            {"maintenance": {"windowStart": "0 25 * * 0"}},
            "social-media-scraper:maintenance.windowStart = \"0 25 * * 0\": must be a 5-field cron expression",
        ),
        (
            {"app": {"image": "ghcr.io/social-media-scraper/app:latest"}},
            "social-media-scraper:app.image = \"ghcr.io/social-media-scraper/app:latest\": image is not pinned by digest",
        ),
        (
            {"app": {"image": f"ghcr.io/social-media-scraper/app:latest@sha256:{'a' * 64}"}},
            f"social-media-scraper:app.image = \"ghcr.io/social-media-scraper/app:latest@sha256:{'a' * 64}\": tag 'latest'",
        ),
        (
            {"app": {"image": "ghcr.io/social-media-scraper/app:2.4.1@sha256:abc"}},
            "social-media-scraper:app.image = \"ghcr.io/social-media-scraper/app:2.4.1@sha256:abc\": digest must be sha256:",
        ),
        (
            {"opsImage": "registry.local:5000/ops:0.1.0"},
            "social-media-scraper:opsImage = \"registry.local:5000/ops:0.1.0\": image is not pinned by digest",
        ),
        (
            {"autoscaling": {"scaleUpStabilizationSeconds": 0}},
            "social-media-scraper:autoscaling.scaleUpStabilizationSeconds = 0: must be whole minutes from 60 to 3600 seconds",
        ),
        (
            # Issue 9: 30 s used to give CPU/memory alarms with EvaluationPeriods 0, which CloudWatch refuses.
            {"autoscaling": {"scaleUpStabilizationSeconds": 30}},
            "social-media-scraper:autoscaling.scaleUpStabilizationSeconds = 30: must be whole minutes from 60 to 3600 seconds",
        ),
        (
            {"autoscaling": {"scaleUpStabilizationSeconds": 90}},
            "social-media-scraper:autoscaling.scaleUpStabilizationSeconds = 90: must be whole minutes from 60 to 3600 seconds",
        ),
        (
            {"database": {"engineVersion": "16.4"}},
            "social-media-scraper:database.engineVersion = \"16.4\": with autoMinorVersionUpgrade (the default) give the "
            "major version only",
        ),
        (
            {"database": {"engineVersion": "16", "autoMinorVersionUpgrade": False}},
            "social-media-scraper:database.engineVersion = \"16\": with autoMinorVersionUpgrade false give the full version",
        ),
        (
            {"cluster": {"name": "scraper-prod", "kubernetesVersion": "1.36"}},
            "social-media-scraper:cluster.kubernetesVersion = \"1.36\": no KEDA release is tested against Kubernetes 1.36",
        ),
        (
            {"cluster": {"name": "scraper-prod", "nodeInstanceType": "fargate"}},
            "social-media-scraper:cluster.nodeInstanceType = \"fargate\": must be the EC2 instance type of the managed "
            "node group the app runs on, like m6i.large",
        ),
        (
            {"database": {"masterPasswordVersion": 0}},
            "social-media-scraper:database.masterPasswordVersion = 0: Input should be greater than or equal to 1",
        ),
        (
            {"maintenance": {"durationMinutes": -5}},
            "social-media-scraper:maintenance.durationMinutes = -5: Input should be greater than 0",
        ),
        ({"dr": {"rpoMinutes": 0}}, "social-media-scraper:dr.rpoMinutes = 0: Input should be greater than 0"),
        (
            {"maintenance": {"cutoffMinutes": 120}},
            "social-media-scraper:maintenance.cutoffMinutes = 120: must be less than durationMinutes (120)",
        ),
        (
            {"app": {"limits": {"cpu": "250m", "memory": "1Gi"}}},
            "social-media-scraper:app.limits = {\"cpu\": \"250m\", \"memory\": \"1Gi\"}: cpu limit 250m is below",
        ),
        (
            {"app": {"requests": {"cpu": "lots", "memory": "1Gi"}}},
            "social-media-scraper:app.requests.cpu = \"lots\": not a Kubernetes quantity",
        ),
        ({"cluster": None}, "social-media-scraper:cluster: required but not set"),
        (
            {"database": {"backupRetentionDays": 0}},
            "social-media-scraper:database.backupRetentionDays = 0: Input should be greater than or equal to 1",
        ),
        (
            {"snapshots": {"manualRetentionDays": 13}},
            "social-media-scraper:snapshots = {\"manualRetentionDays\": 13}: manualRetentionDays "
            "(13) must be >= database.backupRetentionDays (14)",
        ),
        (
            {"snapshots": {"keepNewest": 0}},
            "social-media-scraper:snapshots.keepNewest = 0: Input should be greater than or equal to 1",
        ),
        (
            {"namespace": "default"},
            "social-media-scraper:namespace = \"default\": workloads must not run in a system or the default namespace",
        ),
    ],
)
def test_each_bad_value_is_named_with_what_is_allowed(changes, expected):
    problems = problems_of(**changes)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_unknown_keys_fail_and_list_the_allowed_ones():
    problems = problems_of(drRegoin="us-west-2", autoscaling={"minReplica": 2})
    assert sorted(problems) == sorted(
        [
            "social-media-scraper:autoscaling.minReplica: unknown key (a typo?); allowed: cpuTargetPercent, "
            "maxReplicas, memoryTargetPercent, minReplicas, queueDepthTarget, scaleDownPodsPerMinute, "
            "scaleDownStabilizationSeconds, scaleUpStabilizationSeconds",
            "social-media-scraper:drRegoin: unknown key (a typo?); allowed: alarms, app, autoscaling, cluster, "
            "cost, database, dns, dr, drRegion, maintenance, namespace, opsImage, release, schedules, site, slo, snapshots",
        ]
    )


def test_a_typo_in_an_optional_group_lists_that_groups_keys():
    problems = problems_of(dns={"hostedZoneID": "Z0123", "recordName": "scraper.example.com"})
    assert ("social-media-scraper:dns.hostedZoneID: unknown key (a typo?); allowed: hostedZoneId, recordName"
            in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_of(drRegion="us-east-1", autoscaling={"cpuTargetPercent": 0}, opsImage="ops:latest")
    assert len(problems) == 3
    assert {p.split(" ")[0] for p in problems} == {
        "social-media-scraper:drRegion",
        "social-media-scraper:autoscaling.cpuTargetPercent",
        "social-media-scraper:opsImage",
    }


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("ghcr.io/org/app:2.4.1", "2.4.1"),
        ("registry.local:5000/org/app:1.0", "1.0"),
        ("registry.local:5000/org/app", None),
        ("app@sha256:" + "a" * 64, None),
    ],
)
def test_image_tag_is_not_confused_by_a_registry_port(image, tag):
    assert image_tag(image) == tag


def test_a_digest_pinned_image_is_accepted():
    digest = "ghcr.io/social-media-scraper/app@sha256:" + "0123456789abcdef" * 4
    config = parse_stack_config(with_changes(prod_config(), app={"image": digest}))
    assert config.app.image == digest


def test_the_program_reads_config_the_way_the_pulumi_cli_passes_it(monkeypatch):
    """The CLI hands config over in PULUMI_CONFIG (JSON strings); unknown keys there are caught too."""
    raw = with_changes(prod_config(), autoscaling={"minReplicas": 4})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(raw))
    assert load_from_pulumi().autoscaling.min_replicas == 4
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**raw, "social-media-scraper:typo": "1"}))
    with pytest.raises(ConfigError, match="social-media-scraper:typo: unknown key"):
        load_from_pulumi()


def test_every_config_key_is_described_and_the_readme_table_is_printed_from_the_model():
    from infra.config_docs import markdown_table, rows

    undescribed = [key for key, what, _ in rows() if not what]
    assert undescribed == []
    assert markdown_table() in (REPO_ROOT / "README.md").read_text(), "regenerate it: python -m infra.config_docs"


def test_the_config_table_shows_the_guides_defaults():
    from infra.config_docs import rows

    defaults = {key.rsplit(":", 1)[-1]: default for key, _, default in rows()}
    assert defaults["autoscaling.cpuTargetPercent"] == "`70`" and defaults["autoscaling.queueDepthTarget"] == "`1000`"
    assert defaults["maintenance.windowStart"] == "`0 2 * * 0#1`" and defaults["database.subnetGroupName"] == "(required)"
