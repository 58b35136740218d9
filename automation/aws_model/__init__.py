"""The AWS-model stage of a plan: every planned AWS resource as the API requests the provider would send,
checked against botocore's service models and the cross-field rules AWS documents (tflint-ruleset-aws for Pulumi)."""

from automation.aws_model.stage import AwsModelReport, check_plan

__all__ = ["AwsModelReport", "check_plan"]
