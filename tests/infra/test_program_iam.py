"""The program's IAM as declared: least privilege per job, IRSA trust, the keys' policies."""

from __future__ import annotations

import json

import pytest

from automation.engine import run_program
from tests.support.programs import policy_statements, prod_config, resource, resources_of
from tests.support.resource_types import (
    ROLE_POLICY,
)


def test_iam_policies_grant_no_wildcard_actions_and_no_wildcard_writes(prod_plan):
    unscoped = {"cloudwatch:PutMetricData"}
    reads = ("Describe", "List", "Get")
    policies = resources_of(prod_plan, ROLE_POLICY)
    roles = resources_of(prod_plan, "aws:iam/role:Role")
    managed = resources_of(prod_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert {p.inputs["role"] for p in policies} | {m.inputs["role"] for m in managed} == {r.outputs["name"] for r in roles}
    for policy in policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in action for action in actions), (policy.name, actions)
            if "*" in statement["Resource"]:
                assert all(a in unscoped or a.split(":", 1)[1].startswith(reads) for a in actions), (policy.name, actions)
            if "cloudwatch:PutMetricData" in actions:
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "SocialMediaScraper"}}


def test_smoke_job_may_only_publish_metrics(prod_plan):
    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-smoke-tests-policy")
    assert [s["Action"] for s in statements] == [["cloudwatch:PutMetricData"]]


def test_restore_test_may_only_delete_its_own_temporary_instances(prod_plan):
    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-backup-verify-policy")
    deleting = [s for s in statements if "rds:DeleteDBInstance" in s["Action"]]
    assert deleting[0]["Resource"] == ["arn:aws:rds:us-west-2:123456789012:db:scraper-prod-restore-test-*"]


def test_backup_job_may_delete_only_its_own_snapshots_and_read_only_maintenance_records(prod_plan):
    from automation.backup import CREATED_BY

    statements = policy_statements(prod_plan, "ops-jobs-scraper-ops-backup-policy")
    deleting = [s for s in statements if "rds:DeleteDBSnapshot" in s["Action"]]
    assert len(deleting) == 1 and deleting[0]["Action"] == ["rds:DeleteDBSnapshot"]
    assert deleting[0]["Resource"] == ["arn:aws:rds:us-east-1:123456789012:snapshot:scraper-prod-*",
                                       "arn:aws:rds:us-west-2:123456789012:snapshot:scraper-prod-*"]
    assert deleting[0]["Condition"] == {"StringEquals": {"rds:snapshot-tag/created-by": CREATED_BY}}
    ops_bucket = prod_plan.outputs["opsBucket"]
    reading = {action: s for s in statements for action in s["Action"] if action.startswith("s3:") and action != "s3:PutObject"}
    assert set(reading) == {"s3:ListBucket", "s3:GetObject"}
    assert reading["s3:ListBucket"]["Resource"] == [f"arn:aws:s3:::{ops_bucket}"]
    assert reading["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["maintenance/*"]}}
    assert reading["s3:GetObject"]["Resource"] == [f"arn:aws:s3:::{ops_bucket}/maintenance/*"]


def test_irsa_roles_trust_the_registered_oidc_provider(prod_plan):
    """Issue 9 item 3: the trust names the provider the account really has, looked up from the cluster's issuer."""
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/"
    for role in resources_of(prod_plan, "aws:iam/role:Role"):
        statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        federated = statement["Principal"]["Federated"]
        assert federated.startswith(f"arn:aws:iam::123456789012:oidc-provider/{issuer}")
        provider_host = federated.split("oidc-provider/", 1)[1]
        assert set(statement["Condition"]["StringEquals"]) == {f"{provider_host}:sub", f"{provider_host}:aud"}


NOT_REGISTERED = "finding IAM OIDC Provider by url ({url}): couldn't find resource"


@pytest.mark.slow  # runs the program with a failing lookup (a run of its own)
def test_an_unregistered_oidc_provider_fails_naming_the_fix():
    with pytest.raises(Exception) as failure:
        run_program("prod", prod_config(), oidc_lookup_failure=NOT_REGISTERED)
    message = str(failure.value)
    assert "is not registered as an IAM OIDC provider" in message
    assert "eksctl utils associate-iam-oidc-provider --cluster scraper-prod --approve" in message


@pytest.mark.slow  # runs the program with a failing lookup (a run of its own)
def test_a_failed_oidc_lookup_that_is_not_a_missing_provider_is_not_reported_as_one():
    with pytest.raises(Exception) as failure:
        run_program("prod", prod_config(), oidc_lookup_failure="reading IAM OIDC Providers: AccessDenied: not authorized")
    assert "AccessDenied" in str(failure.value)
    assert "is not registered" not in str(failure.value)


def test_cloudwatch_may_use_the_keys_only_for_this_stacks_alarms(prod_plan):
    """Issue 9 item 8: alarms publish to SSE-KMS topics only if CloudWatch may use the key; scoped by account and
    alarm ARN against the confused deputy."""
    for key_name, region in (("keys-primary", "us-east-1"), ("keys-dr", "us-west-2")):
        policy = json.loads(resource(prod_plan, "aws:kms/key:Key", key_name).inputs["policy"])
        statement = next(s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:123456789012:alarm:scraper-prod-*"},
        }
    alarm_names = prod_plan.outputs["alarms"].values()
    assert all(name.startswith("scraper-prod-") for name in alarm_names)


def test_every_role_that_writes_or_reads_an_encrypted_bucket_may_use_its_key(prod_plan):
    """The buckets' default encryption is SSE-KMS under the stack's keys: an upload needs kms:GenerateDataKey and a
    read kms:Decrypt on the bucket's key, besides the S3 action (S3 User Guide, "Using server-side encryption with
    AWS KMS keys (SSE-KMS)"). moto does not check KMS permissions on S3 calls, so only the plan can show it."""
    key_of = {
        r.inputs["bucket"]: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        for r in resources_of(prod_plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    }
    needs = {"s3:PutObject": "kms:GenerateDataKey", "s3:GetObject": "kms:Decrypt"}
    checked = set()
    for policy in resources_of(prod_plan, ROLE_POLICY):
        statements = json.loads(policy.inputs["policy"])["Statement"]
        granted = {(action, arn) for s in statements for action in s["Action"] for arn in s["Resource"]}
        for action, arn in sorted(granted):
            bucket = arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            if action in needs and bucket in key_of:
                assert (needs[action], key_of[bucket]) in granted, (policy.name, action, arn)
                checked.add(policy.name)
    jobs_writing_reports = {"backup", "backup-verify", "metrics", "dr-test", "capacity-report", "cost-review"}
    assert {f"ops-jobs-scraper-ops-{job}-policy" for job in jobs_writing_reports} <= checked
