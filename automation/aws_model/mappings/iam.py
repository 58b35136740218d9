"""The requests pulumi-aws 7 sends for IAM roles and policies; EKS add-ons."""

from __future__ import annotations


from automation.aws_model.mappings.common import NAME_PREFIX, REGION, TAGS, TAGS_ALL
from automation.aws_model.translation import ProviderOnly, ResourceMapping, To, output


# IAM --------------------------------------------------------------------------------------------

IAM_ROLE = ResourceMapping(
    "iam",
    "CreateRole",
    {
        "name": To("RoleName"),
        "namePrefix": NAME_PREFIX,
        "assumeRolePolicy": To("AssumeRolePolicyDocument"),
        "description": To("Description"),
        "maxSessionDuration": To("MaxSessionDuration"),
        "path": To("Path"),
        "permissionsBoundary": To("PermissionsBoundary"),
        "forceDetachPolicies": ProviderOnly("forceDetachPolicies: the provider detaches policies before DeleteRole"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
    },
    identity={"CreateRole": {"RoleName": output("name")}},
)

IAM_ROLE_POLICY = ResourceMapping(
    "iam",
    "PutRolePolicy",
    {"name": To("PolicyName"), "namePrefix": NAME_PREFIX, "role": To("RoleName"), "policy": To("PolicyDocument")},
    identity={"PutRolePolicy": {"PolicyName": output("name")}},
)

IAM_ROLE_POLICY_ATTACHMENT = ResourceMapping(
    "iam", "AttachRolePolicy", {"role": To("RoleName"), "policyArn": To("PolicyArn")}
)

# EKS (add-ons; the cluster itself is not the stack's) ------------------------------------------

EKS_ADDON = ResourceMapping(
    "eks",
    "CreateAddon",
    {
        "clusterName": To("clusterName"),
        "addonName": To("addonName"),
        "addonVersion": To("addonVersion"),
        "serviceAccountRoleArn": To("serviceAccountRoleArn"),
        "resolveConflictsOnCreate": To("resolveConflicts"),
        "resolveConflictsOnUpdate": ProviderOnly("resolveConflictsOnUpdate: sent as resolveConflicts with UpdateAddon on later updates"),
        "configurationValues": To("configurationValues"),
        "podIdentityAssociations": To(
            "podIdentityAssociations", inner={"roleArn": To("roleArn"), "serviceAccount": To("serviceAccount")}
        ),
        "preserve": ProviderOnly("preserve: sent only with DeleteAddon when the add-on is destroyed"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
)
