"""Stateful resources, one module each: buckets (`storage`), the database and its replica (`database`), AWS
Backup (`backups`), the operations lock table (`lock`).

Every one of them is protected: `pulumi destroy` or a replace cannot remove it without a deliberate
`pulumi state unprotect`.
"""

from infra.components.data.backups import Backups, BackupsArgs
from infra.components.data.database import (
    Database, DatabaseArgs, DatabaseEndpoint, SecretRef, StandbyDatabase, StandbyDatabaseArgs, master_secret_name,
)
from infra.components.data.lock import OpsLock, OpsLockArgs
from infra.components.data.storage import Storage, StorageArgs

__all__ = [
    "Backups", "BackupsArgs", "Database", "DatabaseArgs", "DatabaseEndpoint", "SecretRef", "StandbyDatabase",
    "StandbyDatabaseArgs", "master_secret_name", "OpsLock", "OpsLockArgs", "Storage", "StorageArgs",
]
