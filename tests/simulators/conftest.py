"""The simulators' tests that send to Kafka run on every broker engine, as the stream tests do
(see ``tests/streams/conftest.py``)."""

from engines import every_engine  # noqa: F401  (the ``broker`` fixture)
