"""AWS as the tests see it: a moto server in this process, clients of it, and a stack's resources seeded into it
from the stack's own plan, snapshotted once and restored for every later test."""

from __future__ import annotations

import contextlib
import copy
import copyreg
import email.message
import functools
import io
import itertools
import json
import logging
import os
import threading
import traceback
import types
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from urllib3 import HTTPHeaderDict

from automation.engine import Plan

REGION, DR_REGION = "us-east-1", "us-west-2"


def _with_percentiles(original):
    """moto computes no pNN statistics (GetMetricData crashes on them); the fake gains nearest-rank percentiles,
    from numpy rather than the project's own `percentile`, so the fake never agrees with the code by construction."""

    def get_statistics_for_type(self, stat):
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            import numpy  # here, not with the module, which every worker imports while collecting (~0.1 s)

            values = self.metric_single_values_list
            return float(numpy.percentile(values, float(stat[1:]), method="inverted_cdf")) if values else None
        return original(self, stat)

    return get_statistics_for_type


def _restores_unprotected(original):
    """RDS restores a snapshot without deletion protection unless the request asks for it ("By default, deletion
    protection isn't enabled": botocore's rds model, RestoreDBInstanceFromDBSnapshot, DeletionProtection); moto 5
    copies the flag of the snapshot's source instance, which the plan protects."""

    def restore_db_instance_from_db_snapshot(self, from_snapshot_id, overrides):
        instance = original(self, from_snapshot_id, overrides)
        instance.deletion_protection = bool(overrides.get("deletion_protection"))
        return instance

    return restore_db_instance_from_db_snapshot


def _one_metric_at_a_time(original):
    """moto's GetMetricData scans every datapoint of the region once per period of each query (a 30-day hourly query
    over five such series: ~0.3 s of the server's CPU). A request of MetricStat queries alone is answered by moto
    query by query, each over its own metric's datapoints: moto keeps only those anyway (both of its MetricStat
    filters require the metric name), and no such query reads another's results. Expressions go to moto whole."""

    @functools.wraps(original)
    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        if any("MetricStat" not in query for query in queries):
            return original(self, queries, start_time, end_time, scan_by)
        datapoints, answers = self.get_all_metrics(), []
        for query in queries:
            name = query["MetricStat"]["Metric"]["MetricName"]
            its_own = types.SimpleNamespace(get_all_metrics=lambda name=name: [d for d in datapoints if d.name == name])
            answers.extend(original(its_own, [query], start_time, end_time, scan_by))
        return answers

    return get_metric_data


def _listed_once(list_of_moto_modules):
    """moto's backends, listed from its package directory the first time only."""
    return functools.cache(lambda: tuple(list_of_moto_modules()))


@functools.cache
def _signing_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _one_signing_key(subscription):
    """A subscription's signing key (moto's Subscription.private_key): the process's one key, of moto's kind."""
    return _signing_key()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 with the fixes above; its endpoint URL. This process's clients reach it in-process
    (InProcess). moto is imported here, not with the module: its models take over a second to import, which the fast
    tier (no test there uses moto) does not pay."""
    from moto import backends as moto_backends
    from moto.cloudwatch import models as cloudwatch_models
    from moto.rds import models as rds_models
    from moto.server import ThreadedMotoServer
    from moto.sns import models as sns_models

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cloudwatch_models.Statistics, "get_statistics_for_type",
                      _with_percentiles(cloudwatch_models.Statistics.get_statistics_for_type))
        patch.setattr(cloudwatch_models.CloudWatchBackend, "get_metric_data",
                      _one_metric_at_a_time(cloudwatch_models.CloudWatchBackend.get_metric_data))
        patch.setattr(rds_models.RDSBackend, "restore_db_instance_from_db_snapshot",
                      _restores_unprotected(rds_models.RDSBackend.restore_db_instance_from_db_snapshot))
        # Costs of the fake alone, nothing a test reads: moto's server lists its package directory for every request
        # (to tell whether the service it inferred from the request's signing scope is one of its backends), and moto
        # signs each SNS delivery with a 2048-bit RSA key it generates per subscription (~60 ms; every restored
        # snapshot holds new subscriptions). One listing, and one key for the process, which signs the same way.
        patch.setattr(moto_backends, "list_of_moto_modules", _listed_once(moto_backends.list_of_moto_modules))
        patch.setattr(sns_models.Subscription, "private_key", _one_signing_key)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        in_process = InProcess(server._server, endpoint)
        patch.setattr(f"{__name__}._in_process", in_process)
        patch.setattr(botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS,
                                                             ("before-send", in_process)])
        yield endpoint
        server.stop()


class InProcess:
    """botocore's transport to the moto server for the clients of this process: each request goes to the server's
    own WSGI app on the caller's thread, as werkzeug's request handler would hand it over (its make_environ, with
    moto's additions, then its run_wsgi's headers and error answer). Skipped are the socket, the HTTP framing and
    the thread per request (~4 ms of CPU a request, most of its cost), and botocore's read timeout. Processes the
    tests start reach the server through its socket; so does a client passed to `through_the_socket`."""

    def __init__(self, server, endpoint: str):
        self.server, self.endpoint = server, endpoint

    def __call__(self, request, **_):
        from moto.core.botocore_stubber import MockRawResponse
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.exceptions import InternalServerError

        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" != self.endpoint:
            return None
        handler = MotoRequestHandler.__new__(MotoRequestHandler)  # what the server's handler knows of a request
        handler.server, handler.client_address, handler.connection = self.server, ("127.0.0.1", 0), None
        handler.command, handler.request_version = request.method, "HTTP/1.1"
        handler.path = urlunsplit(("", "", url.path or "/", url.query, ""))
        handler.headers = _sent_headers(url.netloc, request.headers)
        if "Transfer-Encoding" in handler.headers:  # "shouldn't ever happen in practice" (botocore/awsrequest.py)
            raise NotImplementedError(f"{request.method} {request.url}: a chunked body is sent only over the socket")
        handler.rfile = io.BytesIO(_sent_body(request.body))
        environ, answer, content = handler.make_environ(), {}, []

        def start_response(status, headers, exc_info=None):
            answer.update(status=int(status.split(None, 1)[0]), headers=headers)
            return content.append

        try:
            chunks = self.server.app(environ, start_response)
            try:
                content.extend(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
        except Exception:  # answered and logged as werkzeug's server does
            logging.getLogger("werkzeug").error("Error on request:\n%s", traceback.format_exc())
            content.clear()
            content.extend(InternalServerError()(environ, start_response))
        headers = HTTPHeaderDict({"Server": handler.version_string(), "Date": handler.date_time_string()})
        for name, value in answer["headers"]:
            headers.add(name, value)
        headers["Connection"] = "close"
        return AWSResponse(request.url, answer["status"], headers, MockRawResponse(b"".join(content)))


def _sent_headers(netloc: str, headers: Any) -> email.message.Message:
    """The headers the server reads: botocore's (their values UTF-8 bytes, which the server's http.client decodes
    as ISO-8859-1), with what http.client adds unless botocore set them (Host, Accept-Encoding: identity)."""
    sent = email.message.Message()
    sent["Host"], sent["Accept-Encoding"] = netloc, "identity"
    for name, value in headers.items():
        del sent[name]
        sent[name] = value.decode("iso-8859-1") if isinstance(value, bytes) else value
    return sent


def _sent_body(body: Any) -> bytes:
    """The body as botocore sends it: bytes, text, or a stream read from where botocore put it."""
    if hasattr(body, "read"):
        body = body.read()
    return body.encode() if isinstance(body, str) else bytes(body or b"")


_in_process: InProcess | None = None


def through_the_socket(aws_client):
    """`aws_client`, its requests sent through the moto server's socket as a process the tests start sends them."""
    assert _in_process is not None, "no moto server is up"
    aws_client.meta.events.unregister("before-send", _in_process)
    return aws_client


# Kept across tests: EC2 holds only the networks the seeds create (VPCs and subnets for the DB subnet groups), which
# no job reads or changes; re-creating EC2's defaults (default VPC, 1,300 AMIs and snapshots per region) after every
# reset was most of a seed's cost.
KEPT_ACROSS_TESTS = ("ec2",)


def reset_moto() -> None:
    """What POST /moto-api/reset does (moto_api/_internal/models.py: BackendDict.reset, reset_model_data), for
    every service but those in KEPT_ACROSS_TESTS. The server runs in this process, so its backends are here."""
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data

    with backend_lock:
        kept = [b for b in BackendDict._instances if b.service_name in KEPT_ACROSS_TESTS]
        BackendDict._instances[:] = [b for b in BackendDict._instances if b not in kept]
        BackendDict.reset()
        reset_model_data()
        BackendDict._instances.extend(kept)


CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


@functools.cache
def _client(service: str, region: str, environment: tuple[str | None, ...]):
    return boto3.client(service, region_name=region)


def client(service: str, region: str = REGION):
    """A boto3 client, created once per service, region and AWS environment (endpoint, credentials): creating one
    costs tens of milliseconds, and a seed uses about 25."""
    return _client(service, region, tuple(os.environ.get(name) for name in CLIENT_ENVIRONMENT))


def network(region: str, cidr: str) -> list[str]:
    """Two subnets (zones a and b) of the VPC with this CIDR block, created when EC2 has none yet (see
    KEPT_ACROSS_TESTS): what a DB subnet group needs."""
    ec2 = client("ec2", region)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr-block", "Values": [cidr]}])["Vpcs"]
    if vpcs:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
        return [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    prefix = cidr.rsplit(".", 2)[0]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))]


# The seed replays the API requests the plan of a stack would send (the AWS-model stage's translation of every
# planned AWS resource: one description of the stack), for the services the ops jobs call. Not replayed: IAM and
# Secrets Manager (no job calls them), EKS add-ons (the cluster is not the stack's), Route 53 records (the hosted
# zone is not the stack's; the DR tests create their own).
SEEDED_SERVICES = frozenset({"kms", "s3", "rds", "sqs", "sns", "dynamodb", "backup", "cloudwatch"})
NOT_REPLAYED = {
    ("kms", "ScheduleKeyDeletion"): "the stage's rendering of the key's deletion window, applied on delete",
    ("cloudwatch", "PutCompositeAlarm"): "moto 5 raises NotImplementedError",
    ("backup", "CreateBackupSelection"): "moto 5 answers 500",
    ("rds", "StartDBInstanceAutomatedBackupsReplication"): "moto 5 answers no XML",
    ("s3", "PutBucketPolicy"): "the policies deny requests without TLS (aws:SecureTransport), moto enforces bucket "
                               "policies, and the tests reach moto over plain HTTP",
}
# What a create returns in place of the offline engine's id: {(service, operation): {planned output: response path}}.
# The offline id of a backup plan is its name.
CHOSEN_IDS = {
    ("kms", "CreateKey"): {"keyId": ("KeyMetadata", "KeyId")},
    ("sqs", "CreateQueue"): {"url": ("QueueUrl",)},
    ("backup", "CreateBackupPlan"): {"name": ("BackupPlanId",)},
}
NETWORKS = {REGION: "10.10.0.0/16", DR_REGION: "10.20.0.0/16"}


def replayed_requests(plan: Plan) -> list[Any]:
    """The plan's API requests for SEEDED_SERVICES, a resource's after those of the resources it depends on and its
    creating request first (the provider creates a read replica, then modifies it)."""
    from automation.aws_model import check_plan

    by_urn, order, ranks = {r.urn: r for r in plan.resources}, {}, itertools.count()

    def visit(urn: str) -> None:
        if urn in by_urn and urn not in order:
            order[urn] = -1  # being visited
            for dependency in by_urn[urn].dependencies:
                visit(dependency)
            order[urn] = next(ranks)

    for planned in plan.resources:
        visit(planned.urn)
    requests = [q for q in check_plan(plan).requests
                if q.service in SEEDED_SERVICES and (q.service, q.operation) not in NOT_REPLAYED]
    return sorted(requests, key=lambda q: (order[q.urn], not q.operation.startswith("Create")))


def _replaced(document: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(document)
    for offline in sorted(ids, key=len, reverse=True):
        text = text.replace(offline, ids[offline])
    return json.loads(text)


def create_subnet_groups(given: set[tuple[str, str]]) -> None:
    """The DB subnet groups a stack takes as given, (region, name), each created unless it exists."""
    for region, group in sorted(given):
        rds = client("rds", region)
        if group not in {g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]}:
            rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="given to the stack",
                                       SubnetIds=network(region, NETWORKS[region]))


def seed_stack(plan: Plan) -> dict[str, Any]:
    """Create in moto what `pulumi up` of the plan's stack creates, as the plan's own API requests, and leave every
    alarm OK (a healthy stack). What the stack takes as given, its DB subnet groups, is created first.

    Returns the stack outputs as `pulumi stack output --json` would after that deploy: the plan's outputs with the
    ids AWS chose (keys, queue URLs, plan id) in place of the offline ones.
    """
    from botocore import xform_name

    requests, ids = replayed_requests(plan), {}
    given = {(q.region, q.params["DBSubnetGroupName"]) for q in requests if "DBSubnetGroupName" in q.params}
    # moto gap: a cross-region replica is a copy of its source that keeps the source's region, so moto looks its
    # subnet group up in the source's region (RDS uses the replica's own); the same name there satisfies moto.
    given |= {(q.params["SourceDBInstanceIdentifier"].split(":")[3], q.params["DBSubnetGroupName"]) for q in requests
              if q.operation == "CreateDBInstanceReadReplica" and "DBSubnetGroupName" in q.params}
    create_subnet_groups(given)
    resources = {r.urn: r for r in plan.resources}
    for request in requests:
        api = client(request.service, request.region)
        response = getattr(api, xform_name(request.operation))(**_replaced(request.params, ids))
        for output, path in CHOSEN_IDS.get((request.service, request.operation), {}).items():
            chosen = functools.reduce(dict.__getitem__, path, response)
            ids[resources[request.urn].outputs[output]] = chosen
        if request.operation == "PutMetricAlarm":
            api.set_alarm_state(AlarmName=request.params["AlarmName"], StateValue="OK", StateReason="seeded")
    return _replaced(plan.outputs, ids)


@contextlib.contextmanager
def fresh_locks_when_copied() -> Iterator[None]:
    """While moto's state is copied, a lock in it copies as a new lock (copyreg); before and after, copying a lock
    is the TypeError it always is, so code under test that copies one by mistake still fails."""
    lock_types = (type(threading.RLock()), type(threading.Lock()))
    for lock_type, make in zip(lock_types, (threading.RLock, threading.Lock)):
        copyreg.pickle(lock_type, lambda lock, make=make: (make, ()))
    try:
        yield
    finally:
        for lock_type in lock_types:
            copyreg.dispatch_table.pop(lock_type, None)


class MotoSnapshot:
    """moto's backends after a seed, restored for each test instead of seeding again: the server runs in this process,
    so its backends are here. Locks are not copied (a copy gets a fresh lock: `fresh_locks_when_copied`)."""

    def __init__(self):
        from moto.core.base_backend import BackendDict

        with fresh_locks_when_copied():
            self.backends = {b: copy.deepcopy(dict(b), self.kept()) for b in BackendDict._instances
                             if len(b) and b.service_name not in KEPT_ACROSS_TESTS}

    @staticmethod
    def kept() -> dict[int, Any]:
        """A deepcopy memo that maps the backends of KEPT_ACROSS_TESTS to themselves: what refers to them (an RDS
        subnet group to EC2's subnets) keeps referring to the live ones instead of copying all of EC2."""
        from moto.core.base_backend import BackendDict

        kept = [b for b in BackendDict._instances if b.service_name in KEPT_ACROSS_TESTS]
        backends = [region for b in kept for account in b.values() for region in account.values()]
        return {id(backend): backend for backend in backends}

    def restore(self) -> None:
        from moto.core.base_backend import BackendDict, backend_lock

        reset_moto()
        with backend_lock:
            kept = self.kept()
            for backends, state in self.backends.items():
                with fresh_locks_when_copied():
                    backends.update(copy.deepcopy(state, dict(kept)))
                if backends not in BackendDict._instances:  # a reset forgets it until its next request: register it
                    BackendDict._instances.append(backends)


_deployments: dict[tuple[str, ...], tuple[MotoSnapshot, list[dict[str, Any]]]] = {}


def deploy(*plans: Plan) -> list[dict[str, Any]]:
    """The stacks of these plans deployed into a reset moto, seeded once per session (then restored); their outputs."""
    key = tuple(json.dumps(plan.outputs, sort_keys=True) for plan in plans)
    if key not in _deployments:
        reset_moto()
        outputs = [seed_stack(plan) for plan in plans]
        _deployments[key] = (MotoSnapshot(), outputs)
    snapshot, outputs = _deployments[key]
    snapshot.restore()
    return copy.deepcopy(outputs)
