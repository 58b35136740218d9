"""Fixtures shared by the automation tests: the DR site of test_failover.py and test_failback.py
(tests/support/dr_site.py), the cost commands' pinned day, the AWS-model tests' baseline."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone
from typing import Any

import pytest

from tests.support.dr_site import Site, promote_as_rds
from tests.support.moto_stack import deploy


@pytest.fixture
def real_promotion(monkeypatch):
    """moto's promotion as RDS performs it (see promote_as_rds)."""
    from moto.rds import models

    monkeypatch.setattr(models.RDSBackend, "promote_read_replica", promote_as_rds)


@pytest.fixture
def site(aws_env, prod_plan, standby_plan, fake_app, real_promotion):
    """Both stacks deployed into moto from their own plans, the standby behind a recording Pulumi CLI."""
    return Site(deploy(prod_plan, standby_plan), fake_app)


TODAY = date(2026, 11, 28)


@pytest.fixture
def today(monkeypatch):
    """The CLI's clock, pinned: 28 November 2026."""
    monkeypatch.setattr("automation.cli.cost.utcnow", lambda: datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc))
    return TODAY


@pytest.fixture
def baseline(prod_plan_json) -> dict[str, Any]:
    """The prod plan as JSON, which the AWS-model stage must find clean: what a mutation edits."""
    return copy.deepcopy(prod_plan_json)
