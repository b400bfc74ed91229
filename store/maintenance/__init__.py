"""Health checks and online backups of an np database (``np doctor``, ``np backup``).

* :mod:`.probes` — read-only looks at a file: integrity, journal, WAL size, modes, the
  write lock, np's own invariants, row counts.
* :mod:`.doctor` — :func:`diagnose`: the checks of ``np doctor`` as a :class:`Report`.
* :mod:`.backup` — :func:`backup`: an online, verified copy that never overwrites.
"""

from .backup import BackupResult, backup, backup_target
from .doctor import FAIL, OK, WARN, Check, CheckStatus, Report, diagnose
from .probes import (
    consistency_problems,
    counts,
    file_modes,
    integrity_check,
    journal_mode,
    open_existing,
    probe_write_lock,
    wal_size,
)

__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "BackupResult",
    "Check",
    "CheckStatus",
    "Report",
    "backup",
    "backup_target",
    "consistency_problems",
    "counts",
    "diagnose",
    "file_modes",
    "integrity_check",
    "journal_mode",
    "open_existing",
    "probe_write_lock",
    "wal_size",
]
