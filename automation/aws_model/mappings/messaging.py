"""The requests pulumi-aws 7 sends for SQS queues and SNS topics."""

from __future__ import annotations


from automation.aws_model.mappings.common import NAME_PREFIX, REGION, TAGS, TAGS_ALL, as_text
from automation.aws_model.translation import ProviderOnly, ResourceMapping, To, output


# SQS, SNS ---------------------------------------------------------------------------------------

QUEUE = ResourceMapping(
    "sqs",
    "CreateQueue",
    {
        "name": To("QueueName"),
        "namePrefix": NAME_PREFIX,
        "visibilityTimeoutSeconds": To("Attributes.VisibilityTimeout", convert=as_text),
        "messageRetentionSeconds": To("Attributes.MessageRetentionPeriod", convert=as_text),
        "maxMessageSize": To("Attributes.MaximumMessageSize", convert=as_text),
        "delaySeconds": To("Attributes.DelaySeconds", convert=as_text),
        "receiveWaitTimeSeconds": To("Attributes.ReceiveMessageWaitTimeSeconds", convert=as_text),
        "policy": To("Attributes.Policy"),
        "redrivePolicy": To("Attributes.RedrivePolicy"),
        "redriveAllowPolicy": To("Attributes.RedriveAllowPolicy"),
        "kmsMasterKeyId": To("Attributes.KmsMasterKeyId"),
        "kmsDataKeyReusePeriodSeconds": To("Attributes.KmsDataKeyReusePeriodSeconds", convert=as_text),
        "sqsManagedSseEnabled": To("Attributes.SqsManagedSseEnabled", convert=as_text),
        "fifoQueue": To("Attributes.FifoQueue", convert=as_text),
        "contentBasedDeduplication": To("Attributes.ContentBasedDeduplication", convert=as_text),
        "deduplicationScope": To("Attributes.DeduplicationScope"),
        "fifoThroughputLimit": To("Attributes.FifoThroughputLimit"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateQueue": {"QueueName": output("name")}},
)

REDRIVE_ALLOW_POLICY = ResourceMapping(
    "sqs",
    "SetQueueAttributes",
    {"queueUrl": To("QueueUrl"), "redriveAllowPolicy": To("Attributes.RedriveAllowPolicy"), "region": REGION},
)

TOPIC = ResourceMapping(
    "sns",
    "CreateTopic",
    {
        "name": To("Name"),
        "namePrefix": NAME_PREFIX,
        "displayName": To("Attributes.DisplayName"),
        "policy": To("Attributes.Policy"),
        "deliveryPolicy": To("Attributes.DeliveryPolicy"),
        "kmsMasterKeyId": To("Attributes.KmsMasterKeyId"),
        "fifoTopic": To("Attributes.FifoTopic", convert=as_text),
        "contentBasedDeduplication": To("Attributes.ContentBasedDeduplication", convert=as_text),
        "signatureVersion": To("Attributes.SignatureVersion", convert=as_text),
        "tracingConfig": To("Attributes.TracingConfig"),
        "tags": TAGS,
        "tagsAll": TAGS_ALL,
        "region": REGION,
    },
    identity={"CreateTopic": {"Name": output("name")}},
)

TOPIC_SUBSCRIPTION = ResourceMapping(
    "sns",
    "Subscribe",
    {
        "topic": To("TopicArn"),
        "protocol": To("Protocol"),
        "endpoint": To("Endpoint"),
        "filterPolicy": To("Attributes.FilterPolicy"),
        "filterPolicyScope": To("Attributes.FilterPolicyScope"),
        "rawMessageDelivery": To("Attributes.RawMessageDelivery", convert=as_text),
        "redrivePolicy": To("Attributes.RedrivePolicy"),
        "deliveryPolicy": To("Attributes.DeliveryPolicy"),
        "subscriptionRoleArn": To("Attributes.SubscriptionRoleArn"),
        "endpointAutoConfirms": ProviderOnly("endpointAutoConfirms: tells the provider whether to wait for confirmation"),
        "confirmationTimeoutInMinutes": ProviderOnly("confirmationTimeoutInMinutes: how long the provider waits"),
        "region": REGION,
    },
    identity={"Subscribe": {"ReturnSubscriptionArn": lambda resource: True}},
)
