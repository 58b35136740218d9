"""The price table the cost estimate uses: a refreshed copy from the AWS Price List Query API when one is
cached in the project, else the snapshot shipped in `automation/data/prices.json` (offline use).

`scraper-ops cost prices refresh` asks the Price List Query API (boto3 `pricing`, GetProducts) for the
on-demand prices of what the stack declares, in each of its regions, and caches them with their date and
source in `.scraper-ops/prices.json`. The Query API has endpoints in a few regions only
(https://api.pricing.us-east-1.amazonaws.com and https://api.pricing.ap-south-1.amazonaws.com: AWS Price List
Service API reference, "Service Endpoint"), whatever region the prices are for; us-east-1 is used here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from automation.errors import BadInput, CheckFailed
from automation.jsonfile import read_json
from automation.stack_files import project_dir

PRICING_REGION = "us-east-1"
HOURS_PER_MONTH = 730
CACHE = Path(".scraper-ops") / "prices.json"
SHIPPED = "shipped snapshot automation/data/prices.json"


def cache_path() -> Path:
    return project_dir() / CACHE


def load() -> dict[str, Any]:
    """The cached refresh if there is one, else the shipped snapshot; `origin` says which.

    A cache refreshed by an older release lacks the prices added since (a new priced resource type); those come
    from the shipped snapshot, named in `origin`, rather than turning a priced resource into an unpriced one."""
    path = cache_path()
    if not path.is_file():
        return {**load_shipped(), "origin": SHIPPED}
    table = read_json(path, "price cache")
    if not isinstance(table, dict) or not isinstance(table.get("regions"), dict) or "date" not in table:
        raise BadInput(f"price cache {path} is not a price table; delete it or run `scraper-ops cost prices refresh`")
    filled = []
    refreshed = {query.key for query in QUERIES}  # what a refresh of this release writes
    for region, shipped_prices in load_shipped()["regions"].items():
        cached = table["regions"].get(region)
        if not isinstance(cached, dict):
            continue
        for key in sorted((shipped_prices.keys() & refreshed) - cached.keys()):
            cached[key] = shipped_prices[key]
            filled.append(f"{key} ({region})")
    since = f"; {', '.join(filled)} from the {SHIPPED}, newer than the cache" if filled else ""
    return {**table, "origin": f"cache {path}{since}"}


def load_shipped() -> dict[str, Any]:
    """The snapshot shipped with the package."""
    return json.loads(resources.files("automation").joinpath("data/prices.json").read_text())


@dataclass(frozen=True)
class PriceQuery:
    """One entry of the table and the Price List products that give it. Attribute names and values are those of
    the AWS price list (e.g. RDS `databaseEngine` PostgreSQL, `deploymentOption` Single-AZ, `volumeType`
    General Purpose-GP3; the node group's EC2 instances are AmazonEC2 `Compute Instance` products, Linux, shared
    tenancy, no pre-installed software, capacity status Used; a KMS key by `KMS-Keys`); regional usage types carry
    a region prefix (`USW2-...`)."""

    key: str
    service: str
    filters: tuple[tuple[str, str], ...]
    usage_type: str | None = None
    by: str | None = None
    regional: bool = True
    from_usage: float = 0  # the tier whose range begins here (a free allowance is a tier of its own at 0 USD)

    def request(self, region: str) -> dict[str, Any]:
        fields = self.filters + ((("regionCode", region),) if self.regional else ())
        return {"ServiceCode": self.service, "FormatVersion": "aws_v1",
                "Filters": [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in fields]}

    def matches(self, attributes: dict[str, str]) -> bool:
        usage = attributes.get("usagetype", "")
        return self.usage_type is None or usage == self.usage_type or usage.endswith("-" + self.usage_type)


QUERIES = (
    PriceQuery("rdsInstanceHour", "AmazonRDS", (("productFamily", "Database Instance"), ("databaseEngine", "PostgreSQL"),
                                                ("deploymentOption", "Single-AZ")), by="instanceType"),
    PriceQuery("rdsGp3GbMonth", "AmazonRDS", (("productFamily", "Database Storage"), ("volumeType", "General Purpose-GP3"),
                                              ("databaseEngine", "PostgreSQL"), ("deploymentOption", "Single-AZ"))),
    PriceQuery("ec2InstanceHour", "AmazonEC2", (("productFamily", "Compute Instance"), ("operatingSystem", "Linux"),
                                                ("tenancy", "Shared"), ("preInstalledSw", "NA"),
                                                ("capacitystatus", "Used")), by="instanceType"),
    PriceQuery("kmsKeyMonth", "awskms", (("productFamily", "Encryption Key"),), usage_type="KMS-Keys"),
    PriceQuery("alarmMetricMonth", "AmazonCloudWatch", (("productFamily", "Alarm"), ("alarmType", "Standard"))),
    PriceQuery("alarmHighResolutionMetricMonth", "AmazonCloudWatch",
               (("productFamily", "Alarm"), ("alarmType", "High Resolution"))),
    PriceQuery("secretMonth", "AWSSecretsManager", (("productFamily", "Secret"),)),
    PriceQuery("albHour", "AWSELB", (("productFamily", "Load Balancer-Application"),), usage_type="LoadBalancerUsage"),
    PriceQuery("compositeAlarmMonth", "AmazonCloudWatch", (("productFamily", "Alarm"), ("alarmType", "Composite"))),
    # Dashboards are priced per account, not per region (infracost's AWS dashboard price filter sets no region).
    PriceQuery("dashboardMonth", "AmazonCloudWatch", (("productFamily", "Dashboard"),), regional=False),
    # Route 53 is global. A health check of an AWS resource (a CloudWatch alarm's is one) is priced per month beyond
    # the account's first 50, which the price list gives as a 0 USD tier (Route 53 pricing page, "Health checks",
    # https://aws.amazon.com/route53/pricing/; infracost's route53_health_check.go filters the same tier).
    PriceQuery("route53HealthCheckMonth", "AmazonRoute53", (("productFamily", "DNS Health Check"),),
               usage_type="Health-Check-AWS", regional=False, from_usage=50),
)


def _on_demand_usd(product: dict[str, Any], from_usage: float = 0) -> float | None:
    """The on-demand USD price of one price-list product: its first tier from `from_usage` on."""
    tiers = [dimension for term in product.get("terms", {}).get("OnDemand", {}).values()
             for dimension in term.get("priceDimensions", {}).values() if "USD" in dimension.get("pricePerUnit", {})
             and float(dimension.get("beginRange") or 0) >= from_usage]
    if not tiers:
        return None
    first = min(tiers, key=lambda d: float(d.get("beginRange") or 0))
    return float(first["pricePerUnit"]["USD"])


def _products(pricing: Any, query: PriceQuery, region: str) -> Iterable[dict[str, Any]]:
    for page in pricing.get_paginator("get_products").paginate(**query.request(region)):
        for item in page.get("PriceList", []):
            product = json.loads(item)
            if query.matches(product.get("product", {}).get("attributes", {})):
                yield product


def _price(pricing: Any, query: PriceQuery, region: str) -> float | dict[str, float]:
    found: dict[str, set[float]] = {}
    for product in _products(pricing, query, region):
        usd = _on_demand_usd(product, query.from_usage)
        if usd is not None:
            found.setdefault(product["product"]["attributes"].get(query.by, "") if query.by else "", set()).add(usd)
    where = f"{query.service} {dict(query.filters)}" + (f" in {region}" if query.regional else "")
    if not found:
        raise CheckFailed(f"the Price List API has no on-demand price for {query.key} ({where}); nothing written")
    ambiguous = {name: sorted(prices) for name, prices in found.items() if len(prices) > 1}
    if ambiguous:
        raise CheckFailed(f"the Price List API gives several prices for {query.key} ({where}): {ambiguous}; nothing written")
    if query.by:
        return {name: prices.pop() for name, prices in sorted(found.items())}
    return found[""].pop()


def fetch(pricing: Any, regions: list[str], today: date) -> dict[str, Any]:
    """A price table of the same shape as the shipped snapshot, for `regions`, from the Price List Query API."""
    shared = {q.key: _price(pricing, q, PRICING_REGION) for q in QUERIES if not q.regional}
    return {
        "currency": "USD",
        "date": today.isoformat(),
        "source": f"AWS Price List Query API (pricing GetProducts, endpoint {PRICING_REGION}), on-demand, "
                  f"Linux/PostgreSQL Single-AZ, no discounts",
        "hoursPerMonth": HOURS_PER_MONTH,
        # An instance type's vCPUs and memory are fixed facts of the type: the snapshot's list is kept.
        "ec2InstanceShapes": load_shipped()["ec2InstanceShapes"],
        "regions": {region: {**{q.key: _price(pricing, q, region) for q in QUERIES if q.regional}, **shared}
                    for region in regions},
    }


def write_cache(table: dict[str, Any]) -> Path:
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    partial.replace(path)
    return path
