"""The cost-allocation-tags rule knows which AWS types take tags without importing pulumi-aws: its tables in
policies/common.py must say what the installed SDK says, and cover every AWS type the stacks declare."""

from __future__ import annotations

import pytest

from automation.engine import run_program
from automation.stack_files import read_stack_file
from policies.common import TAGGABLE, UNTAGGED
from policies.cost import sdk_takes_tags, takes_tags
from tests.support.programs import REPO_ROOT


@pytest.mark.parametrize("type_token", sorted(TAGGABLE | UNTAGGED))
def test_the_tables_say_what_the_sdk_says(type_token):
    assert sdk_takes_tags(type_token) == (type_token in TAGGABLE), (
        f"{type_token}: pulumi-aws {'has' if sdk_takes_tags(type_token) else 'has no'} `tags` argument; "
        "move it to the other table in policies/common.py")


def test_no_type_is_in_both_tables():
    assert not TAGGABLE & UNTAGGED


@pytest.mark.parametrize("stack", ["staging", "prod-dr"])
def test_every_aws_type_of_the_stacks_is_in_a_table(stack, prod_plan):
    """So that the pack never falls back to importing the SDK for the stacks it guards."""
    plans = [prod_plan, run_program(stack, read_stack_file(stack, REPO_ROOT))]
    declared = {r.type for plan in plans for r in plan.resources if r.type.startswith("aws:")}
    assert declared - TAGGABLE - UNTAGGED == set()


def test_a_type_outside_the_tables_is_read_from_the_sdk():
    vault, lock = "aws:glacier/vault:Vault", "aws:glacier/vaultLock:VaultLock"  # a small SDK module
    assert not {vault, lock} & (TAGGABLE | UNTAGGED)
    assert takes_tags(vault) is True
    assert takes_tags(lock) is False


@pytest.mark.parametrize("type_token", sorted(TAGGABLE))
def test_every_taggable_type_takes_the_providers_default_tags(type_token):
    """The rule counts a provider's default_tags as the resource's: true only of a resource with `tags_all`, the
    provider's merge of default and resource tags. Default tags reach every resource but Auto Scaling Groups, and
    resource tags take precedence (HashiCorp blog, "Default Tags in the Terraform AWS Provider"); what a resource
    creates underneath gets nothing (pulumi-aws docs, aws.getDefaultTags)."""
    import importlib

    module_name, class_name = type_token.split(":")[1].split("/")[0], type_token.rsplit(":", 1)[1]
    resource_class = getattr(importlib.import_module(f"pulumi_aws.{module_name}"), class_name)
    assert hasattr(resource_class, "tags_all"), f"{type_token} has no tags_all: default tags do not reach it"
