"""The guide's monthly maintenance window as one unattended run (`scraper-ops maintenance run|rehearse|unlock`).

Order: window check, operations lock, start notice, alarm actions silenced, backup
(snapshot and DR copy), preview with diff (stop on a stateful replace or delete),
unprotect what the operator allowed to be replaced (after the backup, with the
reason recorded), update (migrations run in it), smoke tests, rollback to the
previous image on a failure after the update, completion notice, record. The
lock, the alarm actions and the record are taken care of on every exit path.
The database is never restored by this code: the pre-maintenance snapshot id is
in the record.

Rooms: the window's times are automation/windows.py; `lock` the operations lock, its heartbeat and unlock;
`record` the run's record, report and notices; `alarms` the alarms it silences; `run` the run itself;
`rehearse` a run up to its preview.
"""

from automation.maintenance.lock import (
                                         HEARTBEAT_SECONDS,
                                         LEASE,
                                         Heartbeat,
                                         LockLost,
                                         OperationsLock,
                                         Takeover,
                                         Unlock,
                                         lock_owner,
                                         unlock,
)
from automation.maintenance.record import Aborted, Record, StepRecord
from automation.maintenance.rehearse import RUN_STEPS, Rehearsal, rehearse
from automation.maintenance.run import FINISH_STEPS, IMAGE_CONFIG_PATH, MaintenanceRun, Options, to_unprotect

__all__ = ["FINISH_STEPS", "HEARTBEAT_SECONDS", "IMAGE_CONFIG_PATH", "LEASE", "RUN_STEPS", "Aborted", "Heartbeat",
           "LockLost", "MaintenanceRun", "OperationsLock", "Options", "Record", "Rehearsal", "StepRecord", "Takeover",
           "Unlock", "lock_owner", "rehearse", "to_unprotect", "unlock"]
