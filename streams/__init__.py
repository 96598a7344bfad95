"""Kafka and Faust: the embedded broker, topics, the enforcement worker and its metrics."""

import logging

# kafka-python logs every connection at INFO; our own logs say what matters.
logging.getLogger("kafka").setLevel(logging.WARNING)
