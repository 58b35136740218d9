"""Entry point of the policy pack for `pulumi preview --policy-pack policies`: assembles the pack, nothing else."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
