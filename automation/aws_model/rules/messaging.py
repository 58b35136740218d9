"""SQS queue attributes, redrive policies, and the KMS keys of queues and topics."""

from __future__ import annotations

from typing import Any, Iterator

from automation.aws_model.facts import PlanFacts, json_object, parse_arn
from automation.aws_model.findings import ApiRequest, Finding

SET_QUEUE_ATTRIBUTES_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
DLQ_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
SNS_SSE_DOC = "https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html"
KMS_KEY_ID_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id"
SCHEDULE_KEY_DELETION_DOC = "https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html"

# SetQueueAttributes / CreateQueue, Attributes (the model has them as free strings).
QUEUE_ATTRIBUTE_RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
MAX_RECEIVE_COUNT = (1, 1000)
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")
MAX_SOURCE_QUEUES = 10
PENDING_WINDOW_DAYS = (7, 30)


def queue_attributes(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """Numeric queue attributes are integers within their documented ranges."""
    attributes = request.params.get("Attributes") or {}
    for name, (low, high) in QUEUE_ATTRIBUTE_RANGES.items():
        value = attributes.get(name)
        if value is None:
            continue
        if not (isinstance(value, str) and value.isdigit() and low <= int(value) <= high):
            yield request.finding("sqs-attribute-range", f"Attributes.{name}", f"{value!r} is not an integer in {low}-{high}", SET_QUEUE_ATTRIBUTES_DOC)


def redrive_policies(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """RedrivePolicy: JSON with an SQS deadLetterTargetArn in the queue's region and account, maxReceiveCount 1-1000;
    RedriveAllowPolicy: redrivePermission allowAll/denyAll/byQueue, sourceQueueArns (1-10) only with byQueue."""
    attributes = request.params.get("Attributes") or {}
    if "RedrivePolicy" in attributes:
        yield from _redrive_policy(request, attributes["RedrivePolicy"], facts)
    if "RedriveAllowPolicy" in attributes:
        yield from _redrive_allow_policy(request, attributes["RedriveAllowPolicy"])


def _redrive_policy(request: ApiRequest, text: Any, facts: PlanFacts) -> Iterator[Finding]:
    path = "Attributes.RedrivePolicy"
    policy = json_object(text)
    if policy is None:
        yield request.finding("sqs-redrive-policy", path, "is not a JSON object", SET_QUEUE_ATTRIBUTES_DOC)
        return
    count = policy.get("maxReceiveCount")
    low, high = MAX_RECEIVE_COUNT
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or not low <= count <= high:
        yield request.finding("sqs-redrive-policy", path, f"maxReceiveCount {count!r} is not in {low}-{high}", SET_QUEUE_ATTRIBUTES_DOC)
    target = parse_arn(policy.get("deadLetterTargetArn"))
    if target is None or target.service != "sqs":
        yield request.finding(
            "sqs-redrive-policy", path, f"deadLetterTargetArn {policy.get('deadLetterTargetArn')!r} is not an SQS queue ARN",
            SET_QUEUE_ATTRIBUTES_DOC,
        )
        return
    own = parse_arn(facts.arns.get(request.urn))
    if (request.region and target.region != request.region) or (own and own.account != target.account):
        yield request.finding(
            "sqs-redrive-policy", path, "the dead-letter queue must be in the queue's own account and region", DLQ_DOC
        )


def _redrive_allow_policy(request: ApiRequest, text: Any) -> Iterator[Finding]:
    path = "Attributes.RedriveAllowPolicy"
    policy = json_object(text)
    if policy is None:
        yield request.finding("sqs-redrive-allow-policy", path, "is not a JSON object", SET_QUEUE_ATTRIBUTES_DOC)
        return
    permission, sources = policy.get("redrivePermission"), policy.get("sourceQueueArns")
    if permission not in REDRIVE_PERMISSIONS:
        yield request.finding(
            "sqs-redrive-allow-policy", path, f"redrivePermission {permission!r} is not one of {', '.join(REDRIVE_PERMISSIONS)}",
            SET_QUEUE_ATTRIBUTES_DOC,
        )
    if permission == "byQueue":
        if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_SOURCE_QUEUES:
            yield request.finding(
                "sqs-redrive-allow-policy", path, f"byQueue needs 1-{MAX_SOURCE_QUEUES} sourceQueueArns", SET_QUEUE_ATTRIBUTES_DOC
            )
        elif any((arn := parse_arn(s)) is None or arn.service != "sqs" for s in sources):
            yield request.finding("sqs-redrive-allow-policy", path, "every sourceQueueArns entry is an SQS queue ARN", SET_QUEUE_ATTRIBUTES_DOC)
    elif sources is not None:
        yield request.finding(
            "sqs-redrive-allow-policy", path, "sourceQueueArns is allowed only with redrivePermission byQueue", SET_QUEUE_ATTRIBUTES_DOC
        )


def kms_master_key(doc: str):
    """A rule: Attributes.KmsMasterKeyId is a key id, key ARN, alias name or alias ARN, of the resource's own region."""

    def check(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
        key = (request.params.get("Attributes") or {}).get("KmsMasterKeyId")
        if key is None:
            return
        arn = parse_arn(key)
        if arn is None and not isinstance(key, str):
            return
        if arn is not None and (arn.service != "kms" or not arn.resource.startswith(("key/", "alias/"))):
            yield request.finding("kms-key-reference", "Attributes.KmsMasterKeyId", f"'{key}' is not a KMS key or alias ARN", KMS_KEY_ID_DOC)
            return
        region = facts.key_region(key)
        if region and request.region and region != request.region:
            yield request.finding(
                "kms-key-reference", "Attributes.KmsMasterKeyId",
                f"the key is in {region}; the {request.service.upper()} resource is in {request.region}", doc,
            )

    check.__doc__ = "Attributes.KmsMasterKeyId names a KMS key of the resource's own region."
    return check


def key_deletion_window(request: ApiRequest, facts: PlanFacts) -> Iterator[Finding]:
    """PendingWindowInDays is 7-30 (ScheduleKeyDeletion)."""
    days = request.params.get("PendingWindowInDays")
    low, high = PENDING_WINDOW_DAYS
    if isinstance(days, int) and not low <= days <= high:
        yield request.finding("kms-deletion-window", "PendingWindowInDays", f"{days} days is not in {low}-{high}", SCHEDULE_KEY_DELETION_DOC)


RULES = {
    "CreateQueue": (queue_attributes, redrive_policies, kms_master_key(SET_QUEUE_ATTRIBUTES_DOC)),
    "SetQueueAttributes": (queue_attributes, redrive_policies, kms_master_key(SET_QUEUE_ATTRIBUTES_DOC)),
    "CreateTopic": (kms_master_key(SNS_SSE_DOC),),
    "ScheduleKeyDeletion": (key_deletion_window,),
}
