"""The cost estimate on known answers: every resource of the prod plan priced or listed as unpriced, KEDA's and the
add-ons' pods, and the price cache refreshed from the AWS Price List API (through botocore's Stubber)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from automation import cost as cost_job
from automation.aws import Aws
from tests.automation.test_capacity_cost import project  # noqa: F401  (the project fixture: a copy of the stack files)
from tests.support.cli import run_cli


def estimate(capsys, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(capsys, "cost", "estimate", "--stack", "prod", "--json", *extra)
    return code, json.loads(out)["estimate"], err


def edit_stack(project, old: str, new: str) -> None:
    path = project / "Pulumi.prod.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_prod_estimate_accounts_for_every_resource_and_prices_kedas_pods(capsys, project, prod_plan):
    code, document, err = estimate(capsys)
    assert (code, err) == (0, "")
    assert document["complete"] is True
    custom = sorted(r.urn for r in prod_plan.resources if r.custom and not r.type.startswith("pulumi:providers:"))
    listed = [line["urn"] for part in ("resources", "unpriced", "free") for line in document[part]]
    assert sorted(listed) == custom, "each resource exactly once: priced, free or not estimated"
    assert all(line["why"] for line in document["unpriced"] + document["free"])
    assert not [line for line in document["unpriced"] if line["fixedCost"]]
    keda = next(line for line in document["resources"] if line["type"] == "kubernetes:helm.sh/v3:Release")
    # Operator and metrics server (100m, 100Mi) and webhooks (10m, 10Mi), each its CPU share of an m6i.large
    # (2 vCPU, 0.096 USD/h): 730 h x 0.096 x (0.1 + 0.1 + 0.01) / 2.
    assert keda["monthlyUsd"] == 7.36 and keda["basis"].startswith("KEDA's pods are priced: 3")
    assert document["total" + "MonthlyUsd"] == round(sum(line["monthlyUsd"] for line in document["resources"]), 2)


@pytest.mark.slow  # plans a config of its own
def test_a_database_class_outside_the_table_is_listed_and_exits_3(capsys, project):
    edit_stack(project, "instanceClass: db.r6g.large", "instanceClass: db.m7g.large")
    code, document, err = estimate(capsys)
    assert code == 3
    assert err.count("\n") == 1 and err.startswith(
        "scraper-ops: estimate incomplete, 1 fixed cost(s) without a price: database-primary (no price for "
        "db.m7g.large for us-east-1 in the shipped snapshot")
    assert "run `scraper-ops cost prices refresh`" in err
    assert document["complete"] is False
    assert [(u["name"], u["fixedCost"]) for u in document["unpriced"] if u["fixedCost"]] == [("database-primary", True)]
    assert "database-primary" not in {line["name"] for line in document["resources"]}


@pytest.mark.slow  # plans a config of its own
def test_a_region_without_prices_lists_each_fixed_cost_and_exits_3(capsys, project):
    code, prod, _ = estimate(capsys)
    edit_stack(project, "aws:region: us-east-1", "aws:region: eu-north-1")
    code, document, err = estimate(capsys)
    assert code == 3 and err.count("\n") == 1
    expected = {line["name"] for line in prod["resources"] if line["region"] in ("us-east-1", None)}
    missing = {u["name"] for u in document["unpriced"] if u["fixedCost"]}
    assert missing == expected
    assert all("no prices for eu-north-1" in u["why"] for u in document["unpriced"] if u["fixedCost"])
    assert {line["region"] for line in document["resources"]} == {"us-west-2"}
    assert 0 < document["totalMonthlyUsd"] < prod["totalMonthlyUsd"]


def test_keda_values_on_the_release_change_the_price(prod_plan):
    release = next(r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release")
    values = {"resources": {"operator": {"requests": {"cpu": "1", "memory": "2Gi"}}}, "webhooks": {"enabled": False},
              "metricsServer": {"replicaCount": 2}}
    tuned = release.model_copy(update={"inputs": {**release.inputs, "values": values}})
    prices = NODE_PRICES
    pricing = cost_job.price_resource(tuned, prod_plan, prices, "us-east-1")
    # the operator's share of a 2 vCPU / 8 GiB node is its CPU half (1/2 > 2/8); two metrics servers at 100m; no
    # webhooks
    assert pricing.kind == "fixed"
    assert pricing.monthly_usd == pytest.approx(730 * 0.1 * (1 / 2 + 2 * 0.1 / 2))
    other_chart = release.model_copy(update={"inputs": {**release.inputs, "chart": "ingress-nginx"}})
    assert cost_job.price_resource(other_chart, prod_plan, prices, "us-east-1").kind == "unpriced"


@pytest.mark.parametrize("change, why", [
    ({"type": "aws:ec2/natGateway:NatGateway"}, "no pricing rule for aws:ec2/natGateway:NatGateway"),
    ({"type": "kubernetes:core/v1:Service", "inputs": {"spec": {"type": "LoadBalancer"}}}, "load balancer"),
    ({"type": "aws:dynamodb/table:Table", "inputs": {"billingMode": "PROVISIONED"}}, "provisioned"),
])
def test_fixed_costs_the_table_cannot_price_are_unpriced(prod_plan, change, why):
    any_resource = next(r for r in prod_plan.resources if r.type == "aws:kms/key:Key")
    pricing = cost_job.price_resource(any_resource.model_copy(update={**change, "region": "us-east-1"}), prod_plan,
                                      {"origin": "t", "hoursPerMonth": 730, "regions": {"us-east-1": {}}}, "us-east-1")
    assert pricing.kind == "unpriced" and pricing.monthly_usd is None and why in pricing.basis


NODE_PRICES = {"origin": "test table", "hoursPerMonth": 730,
               "ec2InstanceShapes": {"m6i.large": {"vcpu": 2, "memoryGiB": 8}},
               "regions": {"us-east-1": {"ec2InstanceHour": {"m6i.large": 0.1}}}}


@pytest.mark.parametrize("cpu, memory, share", [
    (0.5, 0.5, 0.25),  # CPU decides: a quarter of the vCPUs, a sixteenth of the memory
    (0.25, 4, 0.5),  # memory decides
    (2, 8, 1.0),  # the whole node
])
def test_a_pod_costs_the_larger_of_its_cpu_and_memory_share_of_its_node(cpu, memory, share):
    assert cost_job.pod_hourly(cpu, memory, "m6i.large", NODE_PRICES, "us-east-1") == pytest.approx(0.1 * share)
    assert cost_job.pod_hourly(cpu, memory, "x9.huge", NODE_PRICES, "us-east-1") is None


def product(attributes: dict[str, str], usd: str) -> str:
    """One PriceList entry as GetProducts returns it: a JSON document of the product and its terms."""
    sku = f"SKU{abs(hash((tuple(sorted(attributes.items())), usd))) % 10**8:08d}"
    dimension = {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "description": "on demand",
                 "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "appliesTo": [], "pricePerUnit": {"USD": usd}}
    return json.dumps({"product": {"productFamily": attributes.get("productFamily", ""), "attributes": attributes,
                                   "sku": sku},
                       "serviceCode": "test", "publicationDate": "2026-11-20T00:00:00Z", "version": "20261120",
                       "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
                           "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": dimension}, "sku": sku,
                           "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", "termAttributes": {}}}}})


def catalogue(region: str) -> list[tuple[str, list[tuple[str, str]], list[str]]]:
    """What the Price List holds for `region`, request by request: service, TERM_MATCH filters, products."""
    prefix = {"us-east-1": "USE1-", "us-west-2": "USW2-"}[region]
    at = [("regionCode", region)]
    return [
        ("AmazonRDS", [("productFamily", "Database Instance"), ("databaseEngine", "PostgreSQL"),
                       ("deploymentOption", "Single-AZ"), *at],
         [product({"instanceType": "db.r6g.large"}, "0.225"), product({"instanceType": "db.m7g.large"}, "0.168")]),
        ("AmazonRDS", [("productFamily", "Database Storage"), ("volumeType", "General Purpose-GP3"),
                       ("databaseEngine", "PostgreSQL"), ("deploymentOption", "Single-AZ"), *at],
         [product({"volumeType": "General Purpose-GP3"}, "0.115")]),
        ("AmazonEC2", [("productFamily", "Compute Instance"), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
                       ("preInstalledSw", "NA"), ("capacitystatus", "Used"), *at],
         [product({"instanceType": "m6i.large"}, "0.096"), product({"instanceType": "r6i.large"}, "0.126")]),
        ("awskms", [("productFamily", "Encryption Key"), *at], [product({"usagetype": f"{prefix}KMS-Keys"}, "1.0")]),
        ("AmazonCloudWatch", [("productFamily", "Alarm"), ("alarmType", "Standard"), *at],
         [product({"alarmType": "Standard"}, "0.1")]),
        ("AmazonCloudWatch", [("productFamily", "Alarm"), ("alarmType", "High Resolution"), *at],
         [product({"alarmType": "High Resolution"}, "0.3")]),
        ("AWSSecretsManager", [("productFamily", "Secret"), *at], [product({}, "0.4")]),
        ("AWSELB", [("productFamily", "Load Balancer-Application"), *at],
         [product({"usagetype": f"{prefix}LoadBalancerUsage"}, "0.0225"),
          product({"usagetype": f"{prefix}LCUUsage"}, "0.008")]),
        ("AmazonCloudWatch", [("productFamily", "Alarm"), ("alarmType", "Composite"), *at],
         [product({"alarmType": "Composite"}, "0.5")]),
    ]


DASHBOARDS = ("AmazonCloudWatch", [("productFamily", "Dashboard")],
              [product({"regionCode": "us-east-1"}, "3.0"), product({"regionCode": "eu-west-1"}, "3.0")])


def tiered(attributes: dict[str, str], tiers: list[tuple[str, str, str]]) -> str:
    """A product priced in tiers (begin, end, USD), as the price list gives a free allowance."""
    document = json.loads(product(attributes, "0"))
    [term] = document["terms"]["OnDemand"].values()
    [(code, dimension)] = term["priceDimensions"].items()
    term["priceDimensions"] = {f"{code}.{begin}": {**dimension, "beginRange": begin, "endRange": end,
                                                   "pricePerUnit": {"USD": usd}} for begin, end, usd in tiers}
    return json.dumps(document)


# Route 53 is global; an AWS-endpoint health check's first 50 a month are a 0 USD tier of the same product.
HEALTH_CHECKS = ("AmazonRoute53", [("productFamily", "DNS Health Check")],
                 [tiered({"usagetype": "Health-Check-AWS"}, [("0", "50", "0.0"), ("50", "Inf", "0.5")]),
                  tiered({"usagetype": "Health-Check-Non-AWS"}, [("0", "Inf", "0.75")])])


class PriceList:
    """The `pricing` client the CLI gets: a real botocore client whose GetProducts answers come from a Stubber."""

    def __init__(self):
        self.client = boto3.client("pricing", region_name="us-east-1")
        self.stub = Stubber(self.client)
        self.stub.activate()
        self.regions: list[str | None] = []

    def expect(self, service: str, filters: list[tuple[str, str]], products: list[str], pages: int = 1) -> None:
        request = {"ServiceCode": service, "FormatVersion": "aws_v1",
                   "Filters": [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in filters]}
        size = -(-len(products) // pages)
        for page in range(pages):
            last = page == pages - 1
            response = {"FormatVersion": "aws_v1", "PriceList": products[page * size:(page + 1) * size],
                        **({} if last else {"NextToken": f"page-{page + 1}"})}
            self.stub.add_response("get_products", response,
                                   {**request, **({"NextToken": f"page-{page}"} if page else {})})

    def expect_catalogue(self, regions: list[str]) -> None:
        self.expect(*DASHBOARDS)
        self.expect(*HEALTH_CHECKS)
        for region in regions:
            for service, filters, products in catalogue(region):
                self.expect(service, filters, products, pages=2 if len(products) > 1 else 1)


@pytest.fixture
def price_list(aws_env, monkeypatch) -> PriceList:
    prices = PriceList()
    original = Aws.client

    def client(self, service, region=None):
        if service != "pricing":
            return original(self, service, region)
        prices.regions.append(region)
        return prices.client

    monkeypatch.setattr(Aws, "client", client)
    yield prices
    prices.stub.assert_no_pending_responses()


def test_refreshed_prices_are_cached_with_date_and_source_and_price_the_estimate(capsys, project, price_list, today):
    edit_stack(project, "instanceClass: db.r6g.large", "instanceClass: db.m7g.large")
    assert estimate(capsys)[0] == 3, "db.m7g.large is not in the shipped snapshot"
    price_list.expect_catalogue(["us-east-1", "us-west-2"])
    code, out, err = run_cli(capsys, "cost", "prices", "refresh", "--stack", "prod")
    assert (code, err) == (0, ""), out
    assert set(price_list.regions) == {"us-east-1"}, "the Price List Query API is only served from a few regions"
    cache = project / ".scraper-ops" / "prices.json"
    table = json.loads(cache.read_text())
    assert table["date"] == "2026-11-28" and table["source"].startswith("AWS Price List Query API")
    assert table["regions"]["us-west-2"]["rdsInstanceHour"] == {"db.m7g.large": 0.168, "db.r6g.large": 0.225}
    assert table["regions"]["us-east-1"]["ec2InstanceHour"] == {"m6i.large": 0.096, "r6i.large": 0.126}
    assert table["regions"]["us-east-1"]["albHour"] == 0.0225, "load balancer capacity units are billed by use"
    assert table["regions"]["us-east-1"]["dashboardMonth"] == 3.0
    assert table["regions"]["us-west-2"]["route53HealthCheckMonth"] == 0.5, "past the free tier, AWS endpoints"
    assert f"cached in {cache}" in out
    code, document, err = estimate(capsys)
    assert (code, err) == (0, "")
    assert document["prices"] == {"date": "2026-11-28", "source": table["source"], "origin": f"cache {cache}"}
    primary = next(line for line in document["resources"] if line["name"] == "database-primary")
    assert primary["monthlyUsd"] == 268.28  # 2 x (0.168 x 730 + 100 GB x 0.115)


def test_a_price_the_api_lacks_writes_nothing_and_exits_1(capsys, project, price_list, today):
    price_list.expect(*DASHBOARDS)
    price_list.expect(*HEALTH_CHECKS)
    rds, storage = catalogue("us-east-1")[:2]
    price_list.expect(*rds)
    price_list.expect(storage[0], storage[1], [])
    code, _, err = run_cli(capsys, "cost", "prices", "refresh", "--stack", "prod")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("scraper-ops: the Price List API has no on-demand price for rdsGp3GbMonth")
    assert not (project / ".scraper-ops").exists()


def test_refresh_without_credentials_exits_3_and_writes_nothing(capsys, project, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_cli(capsys, "cost", "prices", "refresh", "--stack", "prod")
    assert code == 3 and err.startswith("scraper-ops: no AWS credentials") and err.count("\n") == 1
    assert not (project / ".scraper-ops").exists()


def test_refresh_refuses_an_unknown_region(capsys, project):
    code, _, err = run_cli(capsys, "cost", "prices", "refresh", "--region", "us-moon-1")
    assert code == 2 and err.startswith("scraper-ops: --region us-moon-1 is not an AWS region;") and err.count("\n") == 1
    assert not (project / ".scraper-ops").exists()


def test_a_corrupt_price_cache_is_named(capsys, project):
    (project / ".scraper-ops").mkdir()
    (project / ".scraper-ops" / "prices.json").write_text('{"regions": ')
    code, _, err = run_cli(capsys, "cost", "estimate", "--stack", "prod")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"scraper-ops: price cache {project / '.scraper-ops' / 'prices.json'} is not JSON")


def test_a_cache_older_than_a_shipped_price_takes_that_price_from_the_snapshot_and_says_so(capsys, project):
    """A cache refreshed before the health check was priced lacks its key: the estimate still prices it (from the
    shipped snapshot, named in the origin) instead of turning a priced resource into an unpriced exit 3."""
    from automation import prices as price_table

    old = price_table.load_shipped()
    for regional in old["regions"].values():
        del regional["route53HealthCheckMonth"]
    (project / ".scraper-ops").mkdir()
    cache = project / ".scraper-ops" / "prices.json"
    cache.write_text(json.dumps(old))
    code, document, err = estimate(capsys)
    assert (code, err) == (0, "")
    assert document["prices"]["origin"].startswith(f"cache {cache}; route53HealthCheckMonth (")
    check = next(line for line in document["resources"] if line["type"] == "aws:route53/healthCheck:HealthCheck")
    assert check["monthlyUsd"] == 0.5
    assert json.loads(cache.read_text()) == old, "the cache itself is left as it was refreshed"


def test_the_metrics_server_add_on_prices_its_pods(prod_plan):
    key = next(r for r in prod_plan.resources if r.type == "aws:kms/key:Key")
    add_on = key.model_copy(update={"type": "aws:eks/addon:Addon", "region": "us-east-1",
                                    "inputs": {"clusterName": "scraper-prod", "addonName": "metrics-server"}})
    prices = NODE_PRICES
    pricing = cost_job.price_resource(add_on, prod_plan, prices, "us-east-1")
    # one pod of 100m and 200Mi (the upstream chart's requests): its CPU share of a 2 vCPU node
    assert pricing.kind == "fixed" and pricing.monthly_usd == pytest.approx(730 * 0.1 * 0.1 / 2)
    configured = add_on.model_copy(update={"inputs": {**add_on.inputs, "configurationValues": json.dumps(
        {"replicas": 2, "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}})}})
    assert cost_job.price_resource(configured, prod_plan, prices, "us-east-1").monthly_usd == pytest.approx(
        2 * 730 * 0.1 * 0.5 / 2)
    other = add_on.model_copy(update={"inputs": {"addonName": "aws-guardduty-agent"}})
    assert cost_job.price_resource(other, prod_plan, prices, "us-east-1").kind == "unpriced"


def test_the_primary_records_health_check_is_priced_and_an_endpoint_check_is_not(prod_plan):
    """The PRIMARY record's health check watches a CloudWatch alarm: an AWS-endpoint check with no optional
    features, a monthly price from Route 53's global list. An endpoint check (HTTPS, intervals, string matching
    cost extra) has no rule: a fixed cost without a price, not a silent zero."""
    from automation.prices import load_shipped

    prices = {**load_shipped(), "origin": "shipped"}
    check = next(r for r in prod_plan.resources if r.type == "aws:route53/healthCheck:HealthCheck")
    priced = cost_job.price_resource(check, prod_plan, prices, "us-east-1")
    assert (priced.kind, priced.monthly_usd) == ("fixed", prices["regions"][check.region]["route53HealthCheckMonth"])
    assert "first 50" in priced.basis
    endpoint = check.model_copy(update={"inputs": {**check.inputs, "type": "HTTPS"}})
    assert cost_job.price_resource(endpoint, prod_plan, prices, "us-east-1").kind == "unpriced"
