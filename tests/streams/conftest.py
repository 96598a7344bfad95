"""The stream tests run on every broker engine: ``broker`` is parametrized over ENGINES.

Each engine's broker is started once per session (``tansu_broker``,
``apache_broker`` in ``tests/conftest.py``), so the Apache Kafka JVM starts once
however many tests use it; without a JDK or the jars its tests skip and say why.
"""

from engines import every_engine  # noqa: F401  (the ``broker`` fixture)
