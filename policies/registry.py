"""The registry of registered entities, answering "registered at time t?" for an address.

Membership is a function of the *event's* timestamp: a grant (one prefix of
one entity) holds on ``[registered_at, min(expires_at, revoked_at))``, so a
replay gives the same answers at any speed and in any order.

Two structures serve two questions:

* an all-time union :class:`~policysim.policies.ipset.IPSet` per view of categories
  (every prefix ever granted in them) -- the fast negative filter, because
  most traffic comes from unregistered addresses and is answered by one
  bitmap probe;
* an exact index ``prefix length -> network -> grants`` probed, most
  specific length first, only for addresses that pass the filter; it also
  names the entity and prefix for ``explain``.

Both are updated in place by :meth:`Registry.apply`, which is how
registrations arriving from Kafka are taken in without a rebuild. Every
change bumps :attr:`Registry.version` so a verdict can name the registry
state it used.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec
import numpy as np

from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import IP
from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import (
    Prefix,
    network_mask,
    network_text,
    parse_prefix,
    prefix_range,
    split_mapped,
)
from policysim.policies.problems import Problem, ProblemError
from policysim.policies.timestamps import parse_timestamp

Time = float | str | None


class RegistryRecord(msgspec.Struct, omit_defaults=True):
    """One line of the JSON-lines registry format and one message of the ``registrations`` topic.

    Times are ISO 8601 with an offset or epoch seconds; ``registered_at``
    None means always, ``expires_at`` None means never. A record with
    ``revoked_at`` and no prefixes revokes the whole entity from that time.
    """

    entity_id: str
    name: str | None = None
    category: str | None = None
    prefixes: list[str] = []
    registered_at: float | str | None = None
    expires_at: float | str | None = None
    revoked_at: float | str | None = None


class RegistryMatch(msgspec.Struct, omit_defaults=True):
    """One grant covering an address, as ``explain`` reports it."""

    entity_id: str
    name: str | None
    category: str
    prefix: str
    registered_at: float | str | None
    expires_at: float | str | None
    revoked_at: float | str | None = None
    active: bool = True


class RegistryError(ProblemError):
    """A registry refused as a whole (strict mode or unreadable), listing every problem."""


class RecordError(ValueError):
    """A record :meth:`Registry.apply` refused; ``field`` names the field at fault, if one is,
    so a file reader can point at it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True, eq=False)
class _Grant:
    """One prefix of one entity with its validity window (``until`` includes revocations)."""

    entity_id: str
    category: str
    prefix: str
    start: float
    expires: float
    revoked: float
    until: float
    raw: tuple[Time, Time, Time]  # registered_at, expires_at, revoked_at as given

    def order(self) -> tuple:
        """Grants of one prefix are kept in this order, so which one answers does not depend
        on the order records arrived in (a registry written out and loaded back agrees)."""
        return self.start, self.entity_id, self.category, self.expires, self.revoked

    def identity(self) -> tuple:
        """Applying a record twice (a Kafka redelivery) must not add a second grant."""
        return self.entity_id, self.category, self.start, self.expires, self.revoked


@dataclass(slots=True)
class _Entity:
    name: str | None = None
    category: str | None = None
    grants: list[_Grant] = field(default_factory=list)
    revocations: dict[float, Time] = field(default_factory=dict)

    def end_of(self, start: float, expires: float, revoked: float) -> float:
        """When a grant stops holding: expiry, its own revocation or the entity's next one."""
        entity_revoked = min((t for t in self.revocations if t >= start), default=math.inf)
        return min(expires, revoked, entity_revoked)


def to_epoch(value: Time, name: str, missing: float) -> float:
    """A record time as epoch seconds; ``missing`` when absent (-inf = always, inf = never).

    Raises :class:`RecordError` naming the field ``name``.
    """
    if value is None or value == "":
        return missing
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise RecordError(f"{name} {exc}", name) from None


_Level = tuple[int, int, dict[int, list[_Grant]]]


class Registry:
    """Registered prefixes by entity and category, with as-of-time membership."""

    def __init__(self) -> None:
        self.version = 0
        self.problems: list[Problem] = []
        self._entities: dict[str, _Entity] = {}
        self._tables: dict[tuple[int, int], dict[int, list[_Grant]]] = {}
        self._levels: dict[int, list[_Level]] = {4: [], 6: []}
        self._all = IPSet()
        self._filters: dict[frozenset[str], IPSet] = {}
        self._by_category: dict[str, IPSet] = {}
        self._deferred: dict[str, list[Prefix]] | None = None

    # --- changes ---------------------------------------------------------------

    def apply(self, record: RegistryRecord) -> None:
        """Take in one record (grants and/or a revocation); on ``ValueError`` nothing changed."""
        if not record.entity_id:
            raise RecordError(
                "entity_id is empty: every record needs the id of the registered business"
                " or person",
                "entity_id",
            )
        start = to_epoch(record.registered_at, "registered_at", -math.inf)
        expires = to_epoch(record.expires_at, "expires_at", math.inf)
        revoked = to_epoch(record.revoked_at, "revoked_at", math.inf)
        entity = self._entities.get(record.entity_id)
        category = record.category or (entity.category if entity else None)
        prefixes = [_parse_grant_prefix(text) for text in record.prefixes]
        if prefixes and not category:
            raise RecordError(
                f"entity {record.entity_id!r} has no category: give one, such as freelancer"
                " or bank",
                "category",
            )
        if prefixes and expires <= start:
            raise RecordError(
                f"expires_at {record.expires_at!r} is not after registered_at"
                f" {record.registered_at!r}: a registration must end after it starts",
                "expires_at",
            )
        if not prefixes and revoked == math.inf:
            raise RecordError(
                "the record has no prefixes and no revoked_at: give the addresses it registers,"
                " or revoked_at to revoke the whole entity",
                "prefixes",
            )
        if entity is None:
            entity = self._entities[record.entity_id] = _Entity()
        changed = _update_entity(entity, record)
        if not prefixes and revoked not in entity.revocations:
            entity.revocations[revoked] = record.revoked_at
            for grant in entity.grants:
                grant.until = entity.end_of(grant.start, grant.expires, grant.revoked)
            changed = True
        raw = (record.registered_at, record.expires_at, record.revoked_at)
        until = entity.end_of(start, expires, revoked)
        for prefix, text in prefixes:
            grant = _Grant(record.entity_id, category, text, start, expires, revoked, until, raw)
            changed |= self._add_grant(entity, prefix, grant)
        if changed:
            self.version += 1

    def _add_grant(self, entity: _Entity, prefix: Prefix, grant: _Grant) -> bool:
        """Index a grant everywhere; False when the very same grant is already there."""
        grants = self._grants_at(prefix)
        identity = grant.identity()
        if any(other.identity() == identity for other in grants):
            return False
        entity.grants.append(grant)
        insort(grants, grant, key=_Grant.order)
        for alias in _mapped_alias(prefix):
            insort(self._grants_at(alias), grant, key=_Grant.order)
        if self._deferred is not None:
            self._deferred.setdefault(grant.category, []).append(prefix)
            return True
        self._all.add_network(*prefix)
        if grant.category not in self._by_category:
            self._by_category[grant.category] = IPSet()
        self._by_category[grant.category].add_network(*prefix)
        for categories, ipset in self._filters.items():
            if grant.category in categories:
                ipset.add_network(*prefix)
        return True

    @contextmanager
    def bulk(self) -> Iterator[Registry]:
        """Apply many records with the filter sets built once at the end (bulk roaring loads).

        Answers inside the block may miss the records applied in it.
        """
        self._deferred = {}
        try:
            yield self
        finally:
            deferred, self._deferred = self._deferred, None
            for category, prefixes in deferred.items():
                added = IPSet.from_prefixes(prefixes)
                self._all.update(added)
                self._by_category.setdefault(category, IPSet()).update(added)
                for categories, ipset in self._filters.items():
                    if category in categories:
                        ipset.update(added)

    def _grants_at(self, prefix: Prefix) -> list[_Grant]:
        return self._table(prefix[0], prefix[2]).setdefault(prefix[1], [])

    def _table(self, version: int, length: int) -> dict[int, list[_Grant]]:
        table = self._tables.get((version, length))
        if table is None:
            table = self._tables[version, length] = {}
            levels = self._levels[version]
            levels.append((length, network_mask(version, length), table))
            levels.sort(key=lambda level: -level[0])
        return table

    # --- questions -------------------------------------------------------------

    def view(self, categories: Iterable[str] | None = None) -> RegistryView:
        """A live view: "registered in these categories at ts" (None = any category)."""
        return RegistryView(self, None if categories is None else frozenset(categories))

    def filter_set(self, categories: frozenset[str] | None) -> IPSet:
        """The all-time union of the categories' prefixes, kept up to date by :meth:`apply`."""
        if categories is None:
            return self._all
        if categories not in self._filters:
            union = IPSet()
            for category in categories:
                union = union | self._by_category.get(category, IPSet())
            self._filters[categories] = union
        return self._filters[categories]

    def find(self, ip: IP, ts: float, categories: frozenset[str] | None = None) -> _Grant | None:
        """The grant covering ``ip`` at ``ts`` (in ``categories``): most specific prefix first,
        then the earliest registration, then the entity id."""
        version, value = ip
        for _, mask, table in self._levels[version]:
            grants = table.get(value & mask)
            if grants is not None:
                for grant in grants:
                    if grant.start <= ts < grant.until and (
                        categories is None or grant.category in categories
                    ):
                        return grant
        return None

    def category_at(self, ip: IP, ts: float) -> str | None:
        """The registered category of the address at ``ts`` (None = unregistered)."""
        if ip not in self._all:
            return None
        grant = self.find(ip, ts)
        return grant.category if grant else None

    def categories_batch(
        self, ips: Sequence[IP] | AddressColumns, ts: Sequence[float]
    ) -> list[str | None]:
        columns = AddressColumns.of(ips)
        out: list[str | None] = [None] * columns.size
        for i in np.flatnonzero(self._all.contains_batch(columns)).tolist():
            grant = self.find(columns.ips[i], ts[i])
            if grant is not None:
                out[i] = grant.category
        return out

    def explain(self, ip: IP, ts: float, include_inactive: bool = False) -> list[RegistryMatch]:
        """Grants covering ``ip`` that hold at ``ts`` (or all of them), most specific first."""
        version, value = ip
        matches = []
        for _, mask, table in self._levels[version]:
            for grant in table.get(value & mask, ()):
                active = grant.start <= ts < grant.until
                if active or include_inactive:
                    entity = self._entities[grant.entity_id]
                    registered, expires, revoked = grant.raw
                    matches.append(
                        RegistryMatch(
                            grant.entity_id,
                            entity.name,
                            grant.category,
                            grant.prefix,
                            registered,
                            expires,
                            revoked,
                            active,
                        )
                    )
        return matches

    def stats(self) -> dict:
        """Sizes for logs, metrics and the benchmark."""
        families = {}
        for version in (4, 6):
            prefixes = sum(len(t) for (v, _), t in self._tables.items() if v == version)
            families[f"ipv{version}"] = {
                "prefixes": prefixes,
                "addresses": self._all.address_count(version),
            }
        return {
            **families,
            "bytes": self._all.serialized_size(),
            "version": self.version,
            "entities": len(self._entities),
            "grants": sum(len(e.grants) for e in self._entities.values()),
        }

    def grants(self) -> Iterator[tuple[str, str | None, _Grant]]:
        """Every grant with its entity id and name, in the order they were applied."""
        for entity_id, entity in self._entities.items():
            for grant in entity.grants:
                yield entity_id, entity.name, grant

    def records(self) -> Iterator[RegistryRecord]:
        """The registry as records: grants grouped by entity and window, then revocations."""
        for entity_id, entity in self._entities.items():
            groups: dict[tuple, list[str]] = {}
            for grant in entity.grants:
                groups.setdefault((grant.category, *grant.raw), []).append(grant.prefix)
            for (category, registered, expires, revoked), prefixes in groups.items():
                yield RegistryRecord(
                    entity_id, entity.name, category, prefixes, registered, expires, revoked
                )
            for raw in entity.revocations.values():
                yield RegistryRecord(entity_id, revoked_at=raw)


class RegistryView:
    """A time-dependent set: the addresses registered in some categories at a given time."""

    __slots__ = ("_categories", "_filter", "registry")

    def __init__(self, registry: Registry, categories: frozenset[str] | None) -> None:
        self.registry = registry
        self._categories = categories
        self._filter = registry.filter_set(categories)

    @property
    def categories(self) -> frozenset[str] | None:
        return self._categories

    def contains(self, ip: IP, ts: float) -> bool:
        if ip[0] == 4:
            if not self._filter.contains_v4(ip[1]):
                return False
        elif not self._filter.contains_v6(ip[1]):
            return False
        return self.registry.find(ip, ts, self._categories) is not None

    def contains_batch(self, ips: Sequence[IP] | AddressColumns, ts: Sequence[float]) -> np.ndarray:
        """Vectorised negative filter, then exact as-of-time checks for the hits only."""
        columns = AddressColumns.of(ips)
        hits = self._filter.contains_batch(columns)
        find, categories, addresses = self.registry.find, self._categories, columns.ips
        for i in np.flatnonzero(hits).tolist():
            if find(addresses[i], ts[i], categories) is None:
                hits[i] = False
        return hits


def _parse_grant_prefix(text: str) -> tuple[Prefix, str]:
    try:
        prefix = parse_prefix(text)
    except ValueError as exc:
        raise RecordError(f"bad prefix: {exc}", "prefixes") from None
    return prefix, network_text(*prefix)


def _mapped_alias(prefix: Prefix) -> list[Prefix]:
    """An IPv6 prefix covering ``::ffff:0:0/96`` also covers every IPv4 address."""
    version, value, length = prefix
    if version == 6 and split_mapped(*prefix_range(version, value, length))[1]:
        return [(4, 0, 0)]
    return []


def _update_entity(entity: _Entity, record: RegistryRecord) -> bool:
    changed = False
    if record.name is not None and record.name != entity.name:
        entity.name = record.name
        changed = True
    if record.category and record.category != entity.category:
        entity.category = record.category
        changed = True
    return changed
