"""The region names the config accepts are botocore's: the constant in infra/config.py against the installed
botocore's endpoint data (where EC2 and RDS have endpoints) and partition data (the commercial partition)."""

from __future__ import annotations

import botocore.loaders
import botocore.session
import pytest

from automation.stack_files import read_stack_file
from infra.config import AWS_REGIONS, parse_stack_config
from tests.support.programs import REPO_ROOT


def test_the_region_list_is_botocores_commercial_regions_with_ec2_and_rds():
    session = botocore.session.get_session()
    with_endpoints = set(session.get_available_regions("ec2")) | set(session.get_available_regions("rds"))
    assert set(AWS_REGIONS) == with_endpoints, (
        f"botocore {botocore.__version__} lists other regions: add {sorted(with_endpoints - AWS_REGIONS)}, "
        f"remove {sorted(AWS_REGIONS - with_endpoints)} in infra/config.py AWS_REGIONS")
    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    commercial = next(p for p in partitions if p["id"] == "aws")
    assert AWS_REGIONS <= set(commercial["regions"])


@pytest.mark.parametrize("region", ["eu-central-2", "mx-central-1"])
def test_a_stack_in_a_listed_region_is_accepted(region):
    raw = {**read_stack_file("prod", REPO_ROOT), "aws:region": region}
    assert parse_stack_config(raw).region == region

