"""The bounded wait for a broker: an answer returns at once, silence is one sentence."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysim.base.settings import Settings
from policysim.streams.broker import BrokerError, EmbeddedBroker, free_port
from policysim.streams.connect import BrokerUnreachable, host_and_port, wait_for_broker
from policysim.streams.kafka_config import KafkaConfigError


@pytest.mark.kafka
def test_a_running_broker_answers(broker: EmbeddedBroker) -> None:
    wait_for_broker(Settings(bootstrap=broker.bootstrap))
    wait_for_broker(Settings(bootstrap=f"127.0.0.1:{free_port()},{broker.bootstrap}"))


def test_nobody_listening_is_a_sentence_naming_the_address() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokerUnreachable) as caught:
        wait_for_broker(Settings(bootstrap=address), timeout=0.3)
    assert str(caught.value) == f"no Kafka broker answers at {address} (waited 0.3 s)"
    assert isinstance(caught.value, BrokerError)  # callers of the pipeline catch BrokerError


def test_a_listener_that_is_not_kafka_does_not_count() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(BrokerUnreachable):
            wait_for_broker(Settings(bootstrap=address), timeout=0.3)


def test_the_default_wait_is_the_setting() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokerUnreachable, match=r"\(waited 0.2 s\)"):
        wait_for_broker(Settings(bootstrap=nowhere, connect_timeout_seconds=0.2))


def test_bad_or_missing_addresses_are_config_errors() -> None:
    with pytest.raises(KafkaConfigError, match="--bootstrap-server"):
        wait_for_broker(Settings())
    for bad in ("localhost", "host:port", ":9092", "h:0", "h:70000"):
        with pytest.raises(KafkaConfigError, match="HOST:PORT"):
            host_and_port(bad)


@given(st.integers(1, 65535))
def test_host_and_port_reads_names_and_ipv6_literals(port: int) -> None:
    assert host_and_port(f"kafka-1:{port}") == ("kafka-1", port)
    assert host_and_port(f"[::1]:{port}") == ("::1", port)
