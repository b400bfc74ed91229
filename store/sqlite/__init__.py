"""The SQLite engine (the default, and the reference): one file per machine.

Modules: ``conn`` (opening a file safely, pragmas, ``BEGIN IMMEDIATE`` within one deadline,
error classification), ``schema`` and ``migrations`` (``PRAGMA user_version``, migrated
forward in place), ``engine`` (:class:`~store.sqlite.engine.SqliteDatabase`, registered as
the ``sqlite`` engine), ``feed`` (``PRAGMA data_version``), and the maintenance verbs:
``probes``, ``doctor`` and ``backup``. Never imports ``store.postgres``.
"""
