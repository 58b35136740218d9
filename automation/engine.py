"""The offline engine: the real Pulumi program run in-process under the SDK's mock monitor.

It deploys nothing. Every resource the program registers is recorded as the
engine would receive it (type, name, parent, provider, options and camelCase
inputs), and given deterministic physical names and ids, so that two runs of the
same config give the same plan. `scraper-ops plan`, the offline backend and the
policy check all build on `run_program`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import threading
import uuid
import warnings
from typing import Any, Callable, Iterator, Mapping

from pydantic import BaseModel, ConfigDict, Field

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws(\.|$)")

import pulumi  # noqa: E402
from pulumi.output import Unknown  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402

from automation.errors import BadInput  # noqa: E402
from infra.config import PROJECT, StackConfig, parse_stack_config  # noqa: E402

OFFLINE_ACCOUNT_ID = "123456789012"
AWS_PROVIDER_TYPE = "pulumi:providers:aws"
class PlannedResource(BaseModel):
    """One registration as the engine receives it; also the schema of a resource in `plan --json`."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    urn: str
    type: str
    name: str
    parent: str | None
    region: str | None
    inputs: dict[str, Any]
    custom: bool = True
    provider: str | None = None
    protect: bool = False
    dependencies: list[str] = []
    property_dependencies: dict[str, list[str]] = Field(default_factory=dict, alias="propertyDependencies")
    ignore_changes: list[str] = Field(default_factory=list, alias="ignoreChanges")  # as the SDK sends them
    outputs: dict[str, Any] = {}  # the physical state the engine answered with


class Plan(BaseModel):
    """What a program declared: the document `plan --json` prints and `policy check --plan` reads."""

    model_config = ConfigDict(extra="ignore")

    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    config: StackConfig | None = Field(default=None, exclude=True)  # only when the plan was made here

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def _digest(*parts: str, length: int = 7) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


DISABLE_DEFAULT_PROVIDERS = "pulumi:disable-default-providers"


class DefaultProviderDisabled(RuntimeError):
    """What the engine answers a resource or invoke that names no provider of a package whose default provider the
    stack disabled (`pulumi:disable-default-providers`, pulumi/pulumi#8829): nothing lands in a region by accident."""

    def __init__(self, package: str, what: str):
        super().__init__(f"Default provider for '{package}' disabled. '{what}' must use an explicit provider.")


def disabled_default_providers(raw_config: Mapping[str, str]) -> frozenset[str]:
    """The packages (or `*`) whose default provider the stack config disables."""
    value = raw_config.get(DISABLE_DEFAULT_PROVIDERS)
    try:
        packages = json.loads(value) if value else []
    except ValueError:
        packages = None
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise BadInput(f"{DISABLE_DEFAULT_PROVIDERS} must be a list of package names (or \"*\"), not {value}")
    return frozenset(packages)


class OfflineMocks(pulumi_mocks.Mocks):
    """Deterministic stand-ins for what AWS and Kubernetes would answer.

    Only the invokes the program makes are answered; any other raises, so a new
    data-source call cannot silently get an empty answer. A resource or invoke without an explicit provider is
    refused as the engine refuses it when the stack disables that package's default provider.
    """

    def __init__(self, stack: str, default_region: str, oidc_lookup_failure: str | None = None,
                 no_default_providers: frozenset[str] = frozenset()):
        self.stack = stack
        self.default_region = default_region
        self.oidc_lookup_failure = oidc_lookup_failure  # what AWS answers the OIDC provider lookup, when it fails
        self.no_default_providers = no_default_providers
        self.provider_regions: dict[str, str] = {}
        self._lock = threading.Lock()

    def _require_explicit_provider(self, token: str, provider: str | None, what: str) -> None:
        package = token.split(":", 1)[0]
        if not provider and ({"*", package} & self.no_default_providers):
            raise DefaultProviderDisabled(package, what)

    def region_of(self, provider_ref: str | None) -> str:
        urn = provider_ref.rsplit("::", 1)[0] if provider_ref else ""
        with self._lock:
            return self.provider_regions.get(urn, self.default_region)

    def call(self, args: pulumi_mocks.MockCallArgs):
        self._require_explicit_provider(args.token, args.provider, args.token)
        region = self.region_of(args.provider)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": OFFLINE_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:user/offline",
                "userId": "OFFLINE",
                "id": OFFLINE_ACCOUNT_ID,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:eks/getCluster:getCluster":
            name = args.args["name"]
            return {
                "name": name,
                "id": name,
                "arn": f"arn:aws:eks:{region}:{OFFLINE_ACCOUNT_ID}:cluster/{name}",
                "endpoint": f"https://{_digest(name, length=32).upper()}.gr7.{region}.eks.amazonaws.com",
                "certificateAuthorities": [{"data": "T0ZGTElORQ=="}],
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{_digest(name, length=32).upper()}"}]}],
                "version": "1.31",
                "status": "ACTIVE",
                "vpcConfig": {"vpcId": f"vpc-{_digest(name, length=17)}"},
            }
        if args.token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
            url = args.args["url"]
            if self.oidc_lookup_failure is not None:  # answered as the engine answers a failed invoke
                return {}, [("url", self.oidc_lookup_failure.format(url=url))]
            arn = f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:oidc-provider/{url.removeprefix('https://')}"
            return {"arn": arn, "id": arn, "url": url.removeprefix("https://"), "clientIdLists": ["sts.amazonaws.com"]}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            value = json.dumps({"username": "offline", "password": "Offline0" + _digest(self.stack, "password", length=32)})
            return {"arn": args.args["secretId"], "id": args.args["secretId"], "secretString": value,
                    "versionId": args.args.get("versionId", "offline")}
        if args.token == "aws:lb/getLoadBalancer:getLoadBalancer":  # the ALB the controller made for the Ingress
            name = args.args["name"]
            suffix = f"app/{name}/{_digest(self.stack, name, length=16)}"
            arn = f"arn:aws:elasticloadbalancing:{region}:{OFFLINE_ACCOUNT_ID}:loadbalancer/{suffix}"
            return {"arn": arn, "arnSuffix": suffix, "name": name, "id": arn, "loadBalancerType": "application",
                    "dnsName": f"internal-{name}-{_digest(self.stack, name, length=10)}.{region}.elb.amazonaws.com",
                    "zoneId": "Z" + _digest(region, "alb-zone", length=13).upper()}
        if args.token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            length = int(args.args.get("passwordLength", 32))
            return {"randomPassword": ("Offline0" + _digest(self.stack, "password", length=64))[:length], "id": "offline"}
        if args.token == "aws:rds/getInstance:getInstance":  # a standby stack's database, owned by its primary
            identifier = args.args["dbInstanceIdentifier"]
            return {"id": identifier, "dbInstanceIdentifier": identifier, "port": 5432,
                    "dbInstanceArn": f"arn:aws:rds:{region}:{OFFLINE_ACCOUNT_ID}:db:{identifier}",
                    "address": f"{identifier}.{_digest(identifier, length=12)}.{region}.rds.amazonaws.com"}
        if args.token == "aws:secretsmanager/getSecret:getSecret":
            name = args.args["name"]
            arn = f"arn:aws:secretsmanager:{region}:{OFFLINE_ACCOUNT_ID}:secret:{name}-{_digest(name, length=6)}"
            return {"id": arn, "arn": arn, "name": name}
        if args.token == "aws:s3/getBucket:getBucket":  # a standby's data bucket: its primary's replica bucket
            name = args.args["bucket"]
            return {"id": name, "bucket": name, "arn": f"arn:aws:s3:::{name}", "region": region,
                    "bucketDomainName": f"{name}.s3.amazonaws.com"}
        if args.token == "aws:kms/getAlias:getAlias":
            name = args.args["name"]
            key_id = str(uuid.UUID(_digest(name, length=32)))
            return {"id": name, "name": name, "arn": f"arn:aws:kms:{region}:{OFFLINE_ACCOUNT_ID}:{name}",
                    "targetKeyId": key_id, "targetKeyArn": f"arn:aws:kms:{region}:{OFFLINE_ACCOUNT_ID}:key/{key_id}"}
        raise NotImplementedError(f"the offline engine has no answer for the invoke {args.token}")

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        id_, state = self._new_resource(args)
        # Write-only inputs are sent to the provider but never stored in state (Pulumi docs, "Write-only fields").
        return id_, {key: value for key, value in state.items() if not key.endswith("Wo")}

    def _new_resource(self, args: pulumi_mocks.MockResourceArgs):
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"offline-{_digest(self.stack, args.name, length=12)}", inputs
        if args.custom:  # components have no provider of their own
            self._require_explicit_provider(args.typ, args.provider, f"{args.typ}::{args.name}")
        physical = f"{args.name}-{_digest(self.stack, args.typ, args.name)}"
        if args.typ.startswith("kubernetes:"):
            return self._kubernetes(inputs, physical)
        return self._aws(args.typ, inputs, physical, self.region_of(args.provider))

    @staticmethod
    def _kubernetes(inputs: dict[str, Any], physical: str):
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", physical)
        state = {**inputs, "metadata": metadata}
        namespace = metadata.get("namespace")
        return (f"{namespace}/{metadata['name']}" if namespace else metadata["name"]), state

    def _aws(self, typ: str, inputs: dict[str, Any], physical: str, region: str):
        account = OFFLINE_ACCOUNT_ID
        service = typ.split(":")[1].split("/")[0]
        state = dict(inputs)
        name = inputs.get("name") or physical
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or physical
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", region=region)
            return bucket, state
        if typ == "aws:sqs/queue:Queue":
            url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            state.update(name=name, url=url, arn=f"arn:aws:sqs:{region}:{account}:{name}")
            return url, state
        if typ == "aws:secretsmanager/secretVersion:SecretVersion":
            # The version's `arn` is its secret's; its id is "<secret arn>|<version id>".
            version_id = str(uuid.UUID(hashlib.sha256(physical.encode()).hexdigest()[:32]))
            state.update(arn=inputs.get("secretId"), secretArn=inputs.get("secretId"), versionId=version_id,
                         versionStages=["AWSCURRENT"])
            return f"{inputs.get('secretId')}|{version_id}", state
        if typ == "aws:kms/key:Key":
            key_id = str(uuid.UUID(hashlib.sha256(physical.encode()).hexdigest()[:32]))
            state.update(keyId=key_id, arn=f"arn:aws:kms:{region}:{account}:key/{key_id}")
            return key_id, state
        if typ == "aws:rds/instance:Instance":
            identifier = inputs.get("identifier") or physical
            address = f"{identifier}.c{_digest(account, region, length=11)}.{region}.rds.amazonaws.com"
            state.update(
                identifier=identifier,
                arn=f"arn:aws:rds:{region}:{account}:db:{identifier}",
                address=address,
                endpoint=f"{address}:5432",
                port=5432,
                resourceId=f"db-{_digest(identifier, length=26).upper()}",
            )
            if inputs.get("manageMasterUserPassword"):
                state["masterUserSecrets"] = [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:rds!{identifier}-{_digest(identifier, length=6)}",
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ]
            return state["resourceId"], state
        arn_suffix = {
            "aws:iam/role:Role": f":role/{name}",
            "aws:sns/topic:Topic": f":{name}",
            "aws:dynamodb/table:Table": f":table/{name}",
            "aws:backup/vault:Vault": f":backup-vault:{name}",
            "aws:cloudwatch/metricAlarm:MetricAlarm": f":alarm:{name}",
            "aws:cloudwatch/dashboard:Dashboard": f":dashboard/{inputs.get('dashboardName', name)}",
            "aws:secretsmanager/secret:Secret": f":secret:{name}-{_digest(name, length=6)}",
        }.get(typ, f":{typ.rsplit(':', 1)[-1].lower()}/{name}")
        arn_region = "" if service == "iam" else region
        arn = f"arn:aws:{service}:{arn_region}:{account}{arn_suffix}"
        state.update(name=name, arn=arn)
        resource_id = {"aws:sns/topic:Topic": arn, "aws:iam/role:Role": name, "aws:secretsmanager/secret:Secret": arn}.get(
            typ, physical
        )
        return resource_id, state


# Inputs a provider's Check fills in before anything exists (auto-names), so a preview knows them.
CHECK_ASSIGNED = frozenset({"name", "bucket", "identifier", "metadata"})


class PreviewMocks(OfflineMocks):
    """The engine's view during `pulumi preview`: a resource to create has its inputs (and auto-names) only;
    its id and every output the provider computes (ARNs, URLs, key ids) are unknown, and so is every input
    computed from them. Invokes are answered as in an update: the engine runs data sources during a preview."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        resource_id, state = super().new_resource(args)
        if args.typ.startswith("pulumi:providers:"):
            return resource_id, state
        return "", {key: value for key, value in state.items() if key in args.inputs or key in CHECK_ASSIGNED}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping what a policy needs and Mocks never sees: parent, protect, dependencies,
    ignored changes."""

    def __init__(self, mocks: OfflineMocks):
        super().__init__(mocks)
        self.recorded: dict[str, PlannedResource] = {}
        self._record_lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        mocks: OfflineMocks = self.mocks  # type: ignore[assignment]
        if request.type == AWS_PROVIDER_TYPE:
            with mocks._lock:
                mocks.provider_regions[response.urn] = inputs.get("region", mocks.default_region)
        is_aws = request.type.startswith("aws:") or request.type == AWS_PROVIDER_TYPE
        region = (
            inputs.get("region", mocks.default_region)
            if request.type == AWS_PROVIDER_TYPE
            else (mocks.region_of(request.provider) if is_aws else None)
        )
        resource = PlannedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            region=region,
            inputs=_plain(inputs),
            custom=bool(request.custom),
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            protect=bool(request.protect),
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
            ignore_changes=list(request.ignoreChanges),
            outputs=_plain(self.resources[response.urn].state),
        )
        with self._record_lock:
            self.recorded[response.urn] = resource
        return response


SECRET_PLACEHOLDER = "[secret]"


def _plain(value: Any) -> Any:
    """JSON-ready copy of deserialized properties: secrets masked; unknowns (a preview's) as the engine's wire
    sentinel, which is what a policy pack receives (pulumi_policy.proxy.UNKNOWN_STRING_VALUE).

    A plan is printed and saved, so a secret's value never enters it, not even the offline engine's fake one.
    """
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, Mapping):
        if rpc._special_sig_key in value and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles; integral values read better and validate as integers
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_RUN_LOCK = threading.Lock()


@contextlib.contextmanager
def _young_collections_paused() -> Iterator[None]:
    """No cyclic collection while the program runs; then all it allocated joins the oldest generation.

    A program's first run imports the SDK modules it declares resources from: some 350,000 objects that live as long
    as the process. The collector's young-generation passes walk each of them once and free next to nothing (~0.1 s
    of a `plan`). Resuming with them still young would walk them all at the next allocation, so they are moved to the
    oldest generation first (`gc.freeze()` then `gc.unfreeze()`: "put them back into the oldest generation",
    https://docs.python.org/3/library/gc.html#gc.unfreeze). The run's own cyclic garbage is freed by the next full
    collection instead of a young one; nothing stays frozen, and the collector is left enabled or not as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def run_program(
    stack: str,
    raw_config: Mapping[str, str],
    program: Callable[[StackConfig, str], Mapping[str, Any]] | None = None,
    project: str = PROJECT,
    oidc_lookup_failure: str | None = None,
    preview: bool = False,
) -> Plan:
    """Validate the config, run the program under the mock monitor and return what it declared.

    With `preview`, as `pulumi preview` sees it: outputs of resources not created yet are unknown (see
    PreviewMocks), and the plan's outputs hold only those known at preview.
    Raises ConfigError before anything is declared when the config is bad.
    """
    from infra.program import build_stack

    config = parse_stack_config(raw_config)
    # As the language host does: a failed program leaves futures nobody awaits, and asyncio would log each one.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    program = program or build_stack
    with _RUN_LOCK, _young_collections_paused():  # the SDK's runtime settings are process-global
        pulumi.runtime.reset_options(project=project, stack=stack, preview=preview)
        mocks = (PreviewMocks if preview else OfflineMocks)(stack, config.region, oidc_lookup_failure,
                                                            disabled_default_providers(raw_config))
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
        resolved: dict[str, Any] = {}

        @pulumi.runtime.test
        def execute():
            outputs = program(config, stack)
            return pulumi.Output.all(*(
                pulumi.Output.from_input(value).apply(lambda known, key=key: resolved.__setitem__(key, known))
                for key, value in outputs.items()
            ))

        execute()
        resources = sorted(monitor.recorded.values(), key=lambda r: r.urn)
    return Plan(project=project, stack=stack, resources=resources, outputs=_plain(resolved), config=config)
