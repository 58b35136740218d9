"""What the offline engine answers in place of AWS and Kubernetes: deterministic physical names, ids and lookups,
and the refusals of the real engine (a resource or invoke without the provider its stack requires)."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from typing import Any, Mapping

from pulumi.runtime import mocks as pulumi_mocks

from automation.errors import BadInput

OFFLINE_ACCOUNT_ID = "123456789012"
AWS_PROVIDER_TYPE = "pulumi:providers:aws"


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
            # Its class and AZs are the primary stack's dr settings, unknown here: a single-AZ stand-in, as a
            # cross-region replica is unless asked otherwise (RDS User Guide, "Working with read replicas").
            return {"id": identifier, "dbInstanceIdentifier": identifier, "port": 5432,
                    "dbInstanceClass": "db.r6g.large", "multiAz": False,
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
