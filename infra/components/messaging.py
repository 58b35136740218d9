"""The scrape-job queue with its dead-letter queue, and the alert and maintenance topics."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform

MAX_RECEIVES_BEFORE_DEAD_LETTER = 5
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class MessagingArgs:
    platform: Platform
    primary_key: aws.kms.Key  # encrypts the queues and the primary region's topics
    dr_key: aws.kms.Key  # encrypts the DR region's alerts topic
    alert_emails: tuple[str, ...] = ()  # config alarms.emails: every topic pages them
    alert_https_endpoints: tuple[str, ...] = ()  # config alarms.httpsEndpoints


class Messaging(pulumi.ComponentResource):
    """Queues and topics, all encrypted with the stack's keys.

    CloudWatch alarms can only notify a topic in their own region, so the
    alarms on the DR replica get an alerts topic in the DR region with the
    same subscribers.
    """

    def __init__(self, name: str, args: MessagingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:messaging:Messaging", name, None, opts)
        platform = args.platform
        primary = pulumi.ResourceOptions(parent=self, provider=platform.aws)
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-scrape-jobs-dlq",
            kms_master_key_id=args.primary_key.arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            opts=primary,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-scrape-jobs",
            kms_master_key_id=args.primary_key.arn,
            kms_data_key_reuse_period_seconds=300,
            visibility_timeout_seconds=300,
            message_retention_seconds=4 * 24 * 3600,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": MAX_RECEIVES_BEFORE_DEAD_LETTER}
            ),
            opts=primary,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-scrape-jobs-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}
            ),
            opts=primary,
        )
        self.alerts_topic = self._topic(f"{name}-alerts", args, platform.aws, args.primary_key)
        self.dr_alerts_topic = self._topic(f"{name}-alerts-dr", args, platform.aws_dr, args.dr_key)
        self.maintenance_topic = self._topic(f"{name}-maintenance", args, platform.aws, args.primary_key)
        self.register_outputs(
            {
                "queueUrl": self.queue.url,
                "deadLetterQueueUrl": self.dead_letter_queue.url,
                "alertsTopicArn": self.alerts_topic.arn,
                "maintenanceTopicArn": self.maintenance_topic.arn,
            }
        )

    def _topic(self, name: str, args: MessagingArgs, provider: aws.Provider, key: aws.kms.Key) -> aws.sns.Topic:
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        topic = aws.sns.Topic(name, kms_master_key_id=key.arn, opts=opts)
        endpoints = [("email", e) for e in args.alert_emails] + [("https", e) for e in args.alert_https_endpoints]
        for protocol, endpoint in endpoints:
            aws.sns.TopicSubscription(
                f"{name}-subscription-{hashlib.sha256(endpoint.encode()).hexdigest()[:8]}",
                topic=topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                endpoint_auto_confirms=protocol == "https",
                opts=opts,
            )
        return topic
