"""Settings whose topics and consumer group belong to one test, on the session's shared broker."""

from __future__ import annotations

from policysim.base.settings import Settings, load_settings
from policysim.streams.topics import ensure_topics


def private_settings(bootstrap: str, tag: str) -> Settings:
    """Settings on ``bootstrap`` with topics and a group named after ``tag``, topics created."""
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in tag)
    settings = load_settings(environ={}).replace(
        bootstrap=bootstrap,
        topic_connections=f"connections-{tag}",
        topic_verdicts=f"verdicts-{tag}",
        topic_registrations=f"registrations-{tag}",
        topic_dlq=f"dlq-{tag}",
        consumer_group=f"group-{tag}",
    )
    ensure_topics(settings)
    return settings
