"""Apache Kafka from its published jars: a KRaft broker or cluster on loopback, no Docker.

``make kafka`` fetches the jars with Maven (``pom.xml`` here names the release)
into ``lib/``; :class:`ApacheKafka` formats a private data folder and runs one
JVM per node. The server settings live in :mod:`.server_settings`, which the
compose file's Kafka service follows too.
"""

from policysim.streams.kafka.cluster import ApacheKafka, KafkaUnavailable

__all__ = ["ApacheKafka", "KafkaUnavailable"]
