"""Health checks and online backups of an np database (``np doctor``, ``np backup``)."""

from .doctor import *  # noqa: F403
from .doctor import __all__
