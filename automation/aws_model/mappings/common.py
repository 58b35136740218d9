"""What every service's mappings share: the provider-only inputs and the value conversions."""

from __future__ import annotations

from typing import Any, Mapping

from automation.aws_model.translation import ProviderOnly

TAGS = ProviderOnly("tags: applied through the service's tagging path; the policy pack checks them")
TAGS_ALL = ProviderOnly("tagsAll: the provider's merge of default and resource tags, computed")
NAME_PREFIX = ProviderOnly("namePrefix: the provider generates the name from it")
REGION = ProviderOnly("region: selects the provider's endpoint, not a request member")


def dimension_list(dimensions: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": value} for name, value in dimensions.items()]


def as_text(value: Any) -> Any:
    """SQS and SNS attributes are strings on the wire; the provider formats numbers and booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
