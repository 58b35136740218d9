"""Kubernetes resource quantities (`500m`, `1.5`, `512Mi`, `1G`) as numbers.

Kept here rather than pulling in the whole `kubernetes` client for one function.
"""

from __future__ import annotations

import re
from decimal import Decimal

_QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<suffix>m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
}


def parse_quantity(value: str) -> Decimal:
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r} (examples: 500m, 2, 512Mi, 1Gi)")
    return Decimal(match["number"]) * _FACTORS[match["suffix"]]


def parse_cpu(value: str) -> float:
    """CPU cores (`500m` -> 0.5); must be positive."""
    cores = parse_quantity(value)
    if cores <= 0:
        raise ValueError(f"cpu quantity must be positive: {value!r}")
    return float(cores)


def parse_memory(value: str) -> int:
    """Memory in bytes (`512Mi` -> 536870912); must be positive and whole."""
    if str(value).strip().endswith("m"):
        raise ValueError(f"memory quantity in milli-bytes makes no sense: {value!r}")
    size = parse_quantity(value)
    if size <= 0:
        raise ValueError(f"memory quantity must be positive: {value!r}")
    return int(size)
