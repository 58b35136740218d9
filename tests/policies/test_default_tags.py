"""The cost-allocation-tags rule counts the tags a resource gets from its provider's `default_tags`
(infra/providers.py) with its own: pulumi-aws merges them into the resource's tags (pulumi/pulumi-aws#2655)."""

from __future__ import annotations

import json

from tests.policies.conftest import PlanEditor, under_provider_without_default_tags, violated

QUEUE = "messaging-scrape-jobs"
COST_TAGS = "cost-allocation-tags"


def provider_of(plan: PlanEditor, name: str):
    resource = plan.find(name)
    return next(r for r in plan.plan.resources if r.urn == resource.provider)


def test_a_resource_without_tags_under_a_provider_with_the_default_tags_passes(editor):
    assert "tags" not in editor.inputs(QUEUE)
    assert json.loads(provider_of(editor, QUEUE).inputs["defaultTags"])["tags"]  # JSON text, as the SDK sends it
    assert COST_TAGS not in violated(editor.plan)


def test_a_resource_under_a_provider_without_them_fails(editor):
    under_provider_without_default_tags(editor, QUEUE)
    assert violated(editor.plan)[COST_TAGS] == {QUEUE}


def test_its_own_tags_complete_what_the_provider_lacks(editor):
    provider = provider_of(editor, QUEUE)
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    cost_center = tags.pop("CostCenter")
    provider.inputs["defaultTags"] = json.dumps({"tags": tags})
    editor.inputs(QUEUE)["tags"] = {"CostCenter": cost_center}
    assert QUEUE not in violated(editor.plan).get(COST_TAGS, set())
    # every other resource of that provider now lacks CostCenter
    assert violated(editor.plan)[COST_TAGS] and QUEUE not in violated(editor.plan)[COST_TAGS]


def test_an_empty_tag_of_its_own_overrides_the_default(editor):
    """Resource tags win over default tags on the same key (Terraform AWS provider, default_tags)."""
    editor.inputs(QUEUE)["tags"] = {"CostCenter": ""}
    assert violated(editor.plan)[COST_TAGS] == {QUEUE}


def test_default_tags_given_as_an_object_read_the_same(editor):
    """A plan written by hand (or another SDK) may carry the provider input as an object instead of JSON text."""
    provider = provider_of(editor, QUEUE)
    provider.inputs["defaultTags"] = json.loads(provider.inputs["defaultTags"])
    assert COST_TAGS not in violated(editor.plan)


def test_malformed_default_tags_count_as_none(editor):
    provider_of(editor, QUEUE).inputs["defaultTags"] = "{not json"
    assert QUEUE in violated(editor.plan)[COST_TAGS]
