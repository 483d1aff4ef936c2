"""Noticing a SQLite file deleted or replaced under a running server.

SQLite keeps working on the file it opened after that file is unlinked or renamed over:
without this, every write would still be acknowledged and then vanish at the next
restart. The file's (st_dev, st_ino) at start-up is compared with what the path names
now, before every write and on /healthz; a stat costs microseconds.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy.exc import OperationalError

LOG = logging.getLogger(__name__)


class DatabaseFileGone(Exception):
    """The driver-level cause of the OperationalError raised for a vanished file, so that
    the API's 503 mapping and the engine's database-down handling apply unchanged."""


class SqliteFile:
    """The database file this process opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        info = path.stat()
        self._identity = (info.st_dev, info.st_ino)
        self._reported: str | None = None

    def problem(self) -> str | None:
        """Why writes must be refused, or None while the path still names the opened file."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            problem = f"the database file {self.path} was deleted while vimwatch ran"
        else:
            if (info.st_dev, info.st_ino) == self._identity:
                return None
            problem = f"the database file {self.path} was replaced while vimwatch ran"
        problem += (
            "; writes are refused so that none is acknowledged and then lost: "
            "restore the file, then restart vimwatch"
        )
        if problem != self._reported:
            LOG.error("%s", problem)
            self._reported = problem
        return problem

    def check(self) -> None:
        """Raise before a write that would land in a file nobody will ever open again."""
        problem = self.problem()
        if problem is not None:
            raise OperationalError(None, None, DatabaseFileGone(problem))


def opened_file(database: str | None) -> SqliteFile | None:
    """The file behind a SQLite URL's database part (None for :memory: or a server database)."""
    if not database or database == ":memory:" or not os.path.exists(database):
        return None
    return SqliteFile(Path(database))
