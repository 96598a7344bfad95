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

import gc
import math
from bisect import insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from policysim.policies import registry_index
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import IP
from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import (
    Prefix,
    covers_mapped,
    network_mask,
    network_text,
    parse_prefix,
)
from policysim.policies.problems import Problem, ProblemError
from policysim.policies.registry_index import MAX_CATEGORIES, NONE, GrantIndex
from policysim.policies.registry_stored import (
    ArrayColumns,
    Columns,
    Entities,
    ListedEntities,
    StoredGrants,
)
from policysim.policies.timestamps import parse_timestamp

Time = float | str | None
Finder = Callable[[int, float], int]  # (address value, time) -> category code or NONE


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
        self._all_set: IPSet | None = IPSet()  # None: in _stored_sets, not read yet
        self._filters: dict[frozenset[str], IPSet] = {}
        self._category_sets: dict[str, IPSet] | None = {}  # None: as _all_set
        self._stored_sets: Sequence[bytes] = ()  # a snapshot's bit sets, the union's first
        self._unread_grants: list[tuple[str, Prefix]] = []  # added while a set was not read
        self._deferred: dict[str, list[Prefix]] | None = None
        self._codes: dict[str, int] = {}
        self._names: list[str] = []  # the categories by code
        self._indexes: dict[int, GrantIndex | None] | None = None  # None: not compiled yet
        self._rebuild_at = 0  # changed grants past which the indexes are compiled again
        self._stale = IPSet()
        self._stale_grants = 0
        self._probed: tuple | None = None
        # A loaded state's grants, as columns until a change needs some of them as objects
        # (``_stored``, made then): those are in ``_made`` by row, their prefixes' full lists in
        # ``_tables`` and their entities in ``_entities``; ``_objects`` makes all the rest.
        self._pending: RegistryState | None = None
        self._stored: StoredGrants | None = None
        self._made: dict[int, _Grant] = {}
        self._added = dict.fromkeys(("ipv4", "ipv6", "entities", "grants"), 0)  # since loaded
        # The generation: rises with every change and index rebuild (finders made again). One
        # int64 in an array, so the C finders read it without a Python call.
        self._clock = np.zeros(1, np.int64)
        self._finders: tuple[int, Finder, Finder] | None = None  # category_at's, per family
        self._native = None  # category_at's C finder, once made

    @property
    def _all(self) -> IPSet:
        """Every prefix ever registered, as a bit set (a snapshot's is read on first use: a
        registry answering from its index may never need it)."""
        if self._all_set is None:
            self._all_set = IPSet.from_bytes(self._stored_sets[0])
            for _, prefix in self._unread_grants:
                self._all_set.add_network(*prefix)
            self._forget_unread_grants()
        return self._all_set

    @property
    def _by_category(self) -> dict[str, IPSet]:
        """Each category's prefixes ever registered, as bit sets (read as :attr:`_all`)."""
        if self._category_sets is None:
            stored = self._stored_sets  # categories added since the load have none stored
            names = self._names[: len(stored) - 1]
            self._category_sets = {
                name: IPSet.from_bytes(stored[code + 1]) for code, name in enumerate(names)
            }
            for category, prefix in self._unread_grants:
                self._category_sets.setdefault(category, IPSet()).add_network(*prefix)
            self._forget_unread_grants()
        return self._category_sets

    def _forget_unread_grants(self) -> None:
        """Once every set is read, the grants added before are in all of them."""
        if self._all_set is not None and self._category_sets is not None:
            self._unread_grants = []

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
        entity = self._entity(record.entity_id)
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
            if self._pending is not None:
                self._added["entities"] += 1
        changed = _update_entity(entity, record)
        if not prefixes and revoked not in entity.revocations:
            entity.revocations[revoked] = record.revoked_at
            for grant in entity.grants:
                grant.until = entity.end_of(grant.start, grant.expires, grant.revoked)
                prefix = parse_prefix(grant.prefix)
                for changed_prefix in (prefix, *_mapped_alias(prefix)):
                    self._mark_stale(changed_prefix)
            changed = True
        raw = (record.registered_at, record.expires_at, record.revoked_at)
        until = entity.end_of(start, expires, revoked)
        for prefix, text in prefixes:
            grant = _Grant(record.entity_id, category, text, start, expires, revoked, until, raw)
            changed |= self._add_grant(entity, prefix, grant)
        if changed:
            self.version += 1
            self._clock[0] += 1

    def _add_grant(self, entity: _Entity, prefix: Prefix, grant: _Grant) -> bool:
        """Index a grant everywhere; False when the very same grant is already there."""
        grants = self._grants_at(prefix)
        identity = grant.identity()
        if any(other.identity() == identity for other in grants):
            return False
        entity.grants.append(grant)
        if self._pending is not None:
            self._added["grants"] += 1
        if grant.category not in self._codes:
            self._codes[grant.category] = len(self._names)
            self._names.append(grant.category)
        insort(grants, grant, key=_Grant.order)
        self._mark_stale(prefix)
        for alias in _mapped_alias(prefix):
            insort(self._grants_at(alias), grant, key=_Grant.order)
            self._mark_stale(alias)
        if self._deferred is not None:
            self._deferred.setdefault(grant.category, []).append(prefix)
            return True
        # A loaded state's sets are read when first needed, with the grants added meanwhile:
        # a change does not read megabytes of bit sets the index answers without.
        if self._all_set is None or self._category_sets is None:
            self._unread_grants.append((grant.category, prefix))
        if self._all_set is not None:
            self._all_set.add_network(*prefix)
        if self._category_sets is not None:
            self._category_sets.setdefault(grant.category, IPSet()).add_network(*prefix)
        for categories, ipset in self._filters.items():
            if grant.category in categories:
                ipset.add_network(*prefix)
        return True

    def _mark_stale(self, prefix: Prefix) -> None:
        """Send addresses under a changed prefix to the exact path until the next rebuild."""
        if self._indexes is not None:
            self._stale.add_network(*prefix)
            self._stale_grants += 1

    def _compiled(self) -> dict[int, GrantIndex | None]:
        """The index of each family, (re)built when missing or when the changes since it was
        built would send too many addresses to the exact path; a family's None means its
        addresses are answered exactly."""
        if self._indexes is None or self._stale_grants > self._rebuild_at:
            self._indexes = {version: self.compile_index(version) for version in (4, 6)}
            grants = sum(index.size for index in self._indexes.values() if index is not None)
            self._rebuild_at = max(1024, grants // 8)
            self._stale = IPSet()
            self._stale_grants = 0
            self._clock[0] += 1
        return self._indexes

    def index(self, version: int) -> GrantIndex | None:
        """The compiled index the family is answered from now (None: the exact path); for
        the benchmark's memory figures."""
        return self._compiled()[version]

    def compile_index(self, version: int = 4) -> GrantIndex | None:
        """Every grant of the family (IPv4: mapped aliases included) as the columns of a
        :class:`GrantIndex`; None past 63 categories or when many grants share short prefixes
        (then the exact path answers)."""
        if len(self._codes) > MAX_CATEGORIES:
            return None
        self._objects()
        codes = self._codes
        rows = [
            (network, length, position, grant.start, grant.until, codes[grant.category])
            for length, _, table in self._levels[version]
            for network, grants in table.items()
            for position, grant in enumerate(grants)
        ]
        return GrantIndex.build(rows, version)

    @contextmanager
    def bulk(self) -> Iterator[Registry]:
        """Apply many records with the filter sets built once at the end (bulk roaring loads).

        Answers inside the block may miss the records applied in it. The cyclic garbage
        collector is paused meanwhile: a large load creates millions of objects and none of
        them cycles, and full collections over them took more time than the load itself.
        """
        self._deferred = {}
        try:
            with gc_paused():
                yield self
        finally:
            deferred, self._deferred = self._deferred, None
            self._clock[0] += 1
            for category, prefixes in deferred.items():
                added = IPSet.from_prefixes(prefixes)
                self._all.update(added)
                self._by_category.setdefault(category, IPSet()).update(added)
                for categories, ipset in self._filters.items():
                    if category in categories:
                        ipset.update(added)

    def _grants_at(self, prefix: Prefix) -> list[_Grant]:
        """The grants of ``prefix`` in order, a list kept in the tables (a loaded state's
        grants of it are made objects first)."""
        version, network, length = prefix
        table = self._table(version, length)
        grants = table.get(network)
        if grants is None:
            grants = table[network] = self._stored_at(version, network, length, keep=True)
            if not grants and self._pending is not None:
                self._added[f"ipv{version}"] += 1
        return grants

    def _entity(self, entity_id: str) -> _Entity | None:
        """The entity, a loaded state's made an object with its grants (and their prefixes'
        lists) on first need; None when unknown."""
        entity = self._entities.get(entity_id)
        if entity is not None or self._pending is None:
            return entity
        stored = self._stored_grants()
        number = stored.entities.number(entity_id)
        if number is None:
            return None
        _, name, category, revocations = stored.entities.entity(number)
        entity = _Entity(name, category, [], {when: raw for when, raw in revocations})
        for row in stored.rows_of(number):
            grant = self._made_grant(row, keep=True)
            entity.grants.append(grant)
            prefix = parse_prefix(grant.prefix)
            for at in (prefix, *_mapped_alias(prefix)):
                self._grants_at(at)  # the prefix's list, holding this same grant
        self._entities[entity_id] = entity
        return entity

    def _stored_grants(self) -> StoredGrants:
        if self._stored is None:
            state = self._pending
            self._stored = StoredGrants(state.columns(), state.entities())
        return self._stored

    def _stored_at(self, version: int, network: int, length: int, keep: bool) -> list[_Grant]:
        """A loaded state's grants of one prefix not made into objects yet, in order (``keep``:
        made for good, else only for this answer)."""
        if self._pending is None:
            return []
        stored = self._stored_grants()
        grants = [self._made_grant(row, keep) for row in stored.rows_at(version, network, length)]
        grants.sort(key=_Grant.order)  # stable: rows in the order they were applied
        return grants

    def _made_grant(self, row: int, keep: bool) -> _Grant:
        """The grant object of a loaded state's row; its raw times are read with the rest (see
        :meth:`_objects`)."""
        grant = self._made.get(row)
        if grant is None:
            stored = self._stored
            number, code, version, length, high, low, start, expires, revoked, until, _ = (
                stored.row(row)
            )
            text = network_text(version, high << 64 | low, length)
            entity_id = stored.entities.entity(number)[0]
            category = self._names[code]
            grant = _Grant(entity_id, category, text, start, expires, revoked, until, _UNREAD)
            if keep:
                self._made[row] = grant
        return grant

    def _table(self, version: int, length: int) -> dict[int, list[_Grant]]:
        table = self._tables.get((version, length))
        if table is None:
            table = self._tables[version, length] = {}
            levels = self._levels[version]
            levels.append((length, network_mask(version, length), table))
            levels.sort(key=lambda level: -level[0])
        return table

    @property
    def _generation(self) -> int:
        return int(self._clock[0])

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
        for grant in self._covering(ip):
            if grant.start <= ts < grant.until and (
                categories is None or grant.category in categories
            ):
                return grant
        return None

    def _covering(self, ip: IP) -> Iterator[_Grant]:
        """The grants of every prefix covering ``ip``, most specific first, each prefix's in
        the registry's order. A loaded state's grants not made into objects yet are looked up
        in its columns (a family it has no index for has every grant made first: all its
        addresses come this way)."""
        version, value = ip
        if self._pending is not None and (self._indexes or {}).get(version) is None:
            self._objects()
        if self._pending is None:
            for _, mask, table in self._levels[version]:
                yield from table.get(value & mask, ())
            return
        tables = self._tables
        lengths = (
            self._stored_grants()
            .lengths[version]
            .union(length for length, _, _ in self._levels[version])
        )
        for length in sorted(lengths, reverse=True):
            network = value & network_mask(version, length)
            table = tables.get((version, length))
            grants = None if table is None else table.get(network)
            if grants is None:
                grants = self._stored_at(version, network, length, keep=False)
            yield from grants

    def category_at(self, ip: IP, ts: float) -> str | None:
        """The registered category of the address at ``ts`` (None = unregistered)."""
        if registry_index.NATIVE is not None:
            if self._native is None:
                self._native = native_finder(self, None)
            code = self._native.code(ip, ts)
            return None if code == NONE else self._names[code]
        finders = self._finders
        if finders is None or finders[0] != self._generation:
            four, six = self.finders(self.category_mask(None), None)
            finders = self._finders = (self._generation, four, six)
        if ip[0] == 4:
            code = finders[1](ip[1], ts)
        else:
            code = finders[2](ip[1], ts) if self._all.contains_v6(ip[1]) else NONE
        return None if code == NONE else self._names[code]

    def finders(self, mask: int, categories: frozenset[str] | None) -> tuple[Finder, Finder]:
        """For IPv4 and IPv6, a function answering one address value at a time with the code
        of the grant that answers among the categories in ``mask`` (``NONE`` = none), from the
        compiled index (addresses under prefixes changed since it was built take the exact
        path). Valid until the registry changes: callers keep them per ``_generation``."""
        indexes, stale = self._compiled(), self._stale
        union = self.filter_set(categories)  # most addresses stop at its probe
        made = []
        for version, prefilter in ((4, union.contains_v4), (6, union.contains_v6)):
            index = indexes[version]
            exact = self._exact_finder(version, mask, categories)
            if index is None:
                made.append(exact)
                continue
            # IPv6: callers probe the union first, as its probe is Python (see contains)
            fast = index.finder(mask, prefilter if version == 4 else None)
            if self._stale_grants:
                made.append(_routed(fast, exact, stale, version))
            else:
                made.append(fast)
        return made[0], made[1]

    def native_families(self, categories: frozenset[str] | None) -> tuple[tuple, tuple]:
        """What the C finder (``_finder.Finder.reset``) answers from, for IPv4 and IPv6: the
        compiled index's columns (None: every address takes the exact path), the probe of the
        prefixes changed since the index was built (None: none changed) and the exact path."""
        indexes, mask = self._compiled(), self.category_mask(categories)
        families = []
        for version in (4, 6):
            index = indexes[version]
            stale = (self._stale.contains_v4, self._stale.contains_v6)[version == 6]
            families.append(
                (
                    None if index is None else index.native_columns(),
                    stale if self._stale_grants and index is not None else None,
                    self._exact_finder(version, mask, categories),
                )
            )
        return families[0], families[1]

    def _exact_finder(self, version: int, mask: int, categories: frozenset[str] | None) -> Finder:
        """The exact path as a finder. Where the family has an index, only the addresses under
        prefixes changed since it was built come here; without one every address does, and the
        categories' union (made on the first call) turns most of them away first."""
        exact_code = self._exact_code
        if self._compiled()[version] is not None:
            return lambda value, ts: exact_code((version, value), ts, mask)

        def exact(value: int, ts: float) -> int:
            if (version, value) not in self.filter_set(categories):
                return NONE
            return self._exact_code((version, value), ts, mask)

        return exact

    def _exact_code(self, ip: IP, ts: float, mask: int) -> int:
        codes = self._codes
        for grant in self._covering(ip):
            if grant.start <= ts < grant.until:
                code = codes[grant.category]
                if mask >> code & 1:
                    return code
        return NONE

    def categories_batch(
        self, ips: Sequence[IP] | AddressColumns, ts: Sequence[float]
    ) -> list[str | None]:
        """The registered category of each address at its time (None = unregistered)."""
        if len(self._codes) > MAX_CATEGORIES:
            return [grant and grant.category for grant in self._find_batch(ips, ts, None)]
        codes, _ = self.probe_batch(ips, ts)
        names: list[str | None] = [*self._codes, None]  # code -1 (NONE) picks the None
        return [names[code] for code in codes.tolist()]

    def probe_batch(
        self, ips: Sequence[IP] | AddressColumns, ts: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each address at its time: the category code that answers (``NONE`` = not
        registered) and the mask of every category it is registered in.

        One probe serves the verdict's category and every view's membership: the
        last answer is kept for the same columns, times and registry version.
        """
        columns = AddressColumns.of(ips)
        if self._probed is not None:
            seen_columns, seen_ts, version, answer = self._probed
            if seen_columns is columns and seen_ts is ts and version == self.version:
                return answer
        answer = self._probe(columns, np.asarray(ts, dtype=np.float64))
        self._probed = (columns, ts, self.version, answer)
        return answer

    def _probe(self, columns: AddressColumns, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = np.full(columns.size, NONE, dtype=np.int8)
        bits = np.zeros(columns.size, dtype=np.uint64)
        indexes = self._compiled()
        index = indexes[4]
        values = columns.v4
        at = np.arange(columns.size) if columns.v4_positions is None else columns.v4_positions
        # The C probe answers an address no grant covers as fast as the all-time bit set would
        # sort it out, so that set (read from a snapshot on first use) filters only for the
        # numpy path and the exact one.
        native = registry_index.NATIVE is not None
        if index is not None and native:
            hits = np.ones(len(values), bool)
        else:
            hits = self._all.contains_v4_array(values)
        if index is None:
            exact = hits
        elif self._stale_grants:
            exact = hits & self._stale.contains_v4_array(values)
        else:
            exact = np.zeros_like(hits)
        fast = np.flatnonzero(hits & ~exact)
        if len(fast):
            rows = at[fast]
            codes[rows], bits[rows] = index.probe(values[fast], ts[rows])
        slow = at[exact].tolist()
        index6 = indexes[6]
        sift6 = index6 is None or not native
        v6_hits = [
            (i, value)
            for i, value in zip(columns.v6_positions, columns.v6, strict=True)
            if not sift6 or self._all.contains_v6(value)
        ]
        if index6 is None:
            slow.extend(i for i, _ in v6_hits)
            v6_hits = []
        elif self._stale_grants:  # addresses under IPv6 prefixes changed since: the exact path
            stale = [self._stale.contains_v6(value) for _, value in v6_hits]
            slow.extend(i for (i, _), changed in zip(v6_hits, stale, strict=True) if changed)
            v6_hits = [hit for hit, changed in zip(v6_hits, stale, strict=True) if not changed]
        if v6_hits:
            rows = np.array([i for i, _ in v6_hits], np.int64)
            codes[rows], bits[rows] = index6.probe_values([v for _, v in v6_hits], ts[rows])
        for i in slow:
            codes[i], bits[i] = self._exact(columns.ips[i], float(ts[i]))
        return codes, bits

    def _exact(self, ip: IP, ts: float) -> tuple[int, int]:
        """The code of the grant that answers and the mask of every holding category."""
        code, bits = NONE, 0
        for grant in self._covering(ip):
            if grant.start <= ts < grant.until:
                grant_code = self._codes[grant.category]
                bits |= 1 << grant_code
                if code == NONE:
                    code = grant_code
        return code, bits

    def _find_batch(
        self,
        ips: Sequence[IP] | AddressColumns,
        ts: Sequence[float],
        categories: frozenset[str] | None,
    ) -> list[_Grant | None]:
        """Address by address (past 63 categories, where the probe's mask has no room)."""
        return [
            self.find(ip, t, categories) if ip in self._all else None
            for ip, t in zip(AddressColumns.of(ips).ips, ts, strict=True)
        ]

    def category_mask(self, categories: frozenset[str] | None) -> int:
        """The probe bits of ``categories`` (None = any category)."""
        if categories is None:
            return (1 << max(len(self._names), MAX_CATEGORIES + 1)) - 1
        return sum(1 << code for name, code in self._codes.items() if name in categories)

    def explain(self, ip: IP, ts: float, include_inactive: bool = False) -> list[RegistryMatch]:
        """Grants covering ``ip`` that hold at ``ts`` (or all of them), most specific first."""
        self._objects()  # the times as given, and names
        matches = []
        for grant in self._covering(ip):
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

    def counts(self) -> dict[str, int]:
        """Prefixes per family, entities and grants (no bit set read: see :meth:`stats`)."""
        if self._pending is None:
            return self._counts()
        loaded = self._pending.header["counts"]
        return {name: loaded[name] + self._added[name] for name in loaded}

    def stats(self) -> dict:
        """Sizes for logs, metrics and the benchmark."""
        counts = self.counts()
        families = {
            f"ipv{version}": {
                "prefixes": counts[f"ipv{version}"],
                "addresses": self._all.address_count(version),
            }
            for version in (4, 6)
        }
        return {
            **families,
            "bytes": self._all.serialized_size(),
            "version": self.version,
            "entities": counts["entities"],
            "grants": counts["grants"],
        }

    def _counts(self) -> dict[str, int]:
        prefixes = {version: 0 for version in (4, 6)}
        for (version, _), table in self._tables.items():
            prefixes[version] += len(table)
        return {
            "ipv4": prefixes[4],
            "ipv6": prefixes[6],
            "entities": len(self._entities),
            "grants": sum(len(e.grants) for e in self._entities.values()),
        }

    def grants(self) -> Iterator[tuple[str, str | None, _Grant]]:
        """Every grant with its entity id and name, in the order they were applied."""
        self._objects()
        for entity_id, entity in self._entities.items():
            for grant in entity.grants:
                yield entity_id, entity.name, grant

    def records(self) -> Iterator[RegistryRecord]:
        """The registry as records: grants grouped by entity and window, then revocations."""
        self._objects()
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

    # --- compiled state ----------------------------------------------------------

    def to_state(self) -> RegistryState:
        """The registry as columns, one row per grant in :meth:`grants` order, with its
        compiled indexes, for snapshots."""
        if self._pending is not None and self.version == self._pending.header["version"]:
            return self._pending  # loaded from a snapshot and unchanged since
        self._objects()
        entities = []
        numbers: list[int] = []
        grants: list[_Grant] = []
        for number, (entity_id, entity) in enumerate(self._entities.items()):
            revocations = [[when, raw] for when, raw in entity.revocations.items()]
            entities.append([entity_id, entity.name, entity.category, revocations])
            grants.extend(entity.grants)
            numbers.extend([number] * len(entity.grants))
        where = {  # each grant's own prefix (an IPv4 alias of an IPv6 grant left out)
            id(grant): (version, network, length)
            for (version, length), table in self._tables.items()
            for network, listed in table.items()
            for grant in listed
            if (version == 6) == (":" in grant.prefix)
        }
        places = [where[id(grant)] for grant in grants]
        extra: list = []
        flags = [
            _raw_flag(grant.raw[0], grant.start, extra)
            | _raw_flag(grant.raw[1], grant.expires, extra) << 2
            | _raw_flag(grant.raw[2], grant.revoked, extra) << 4
            for grant in grants
        ]
        count, codes = len(grants), self._codes
        columns = {
            "entity": numbers,
            "category": (codes[grant.category] for grant in grants),
            "family": (version for version, _, _ in places),
            "length": (length for _, _, length in places),
            "high": (value >> 64 for _, value, _ in places),
            "low": (value & _LOW64 for _, value, _ in places),
            "start": (grant.start for grant in grants),
            "expires": (grant.expires for grant in grants),
            "revoked": (grant.revoked for grant in grants),
            "until": (grant.until for grant in grants),
            "raw": flags,
        }
        arrays = {name: np.fromiter(columns[name], dtype, count) for name, dtype in _COLUMNS}
        prefixes = "\n".join(grant.prefix for grant in grants)
        sets = [self._all, *(self._by_category.get(name, IPSet()) for name in self._codes)]
        header = {
            "version": self.version,
            "categories": list(self._codes),
            "counts": self._counts(),
        }
        details = {"entities": entities, "raw": extra, "prefixes": prefixes}
        indexes = self._indexes
        if indexes is None or self._stale_grants:
            indexes = {version: self.compile_index(version) for version in (4, 6)}
        sets_bytes = [ipset.to_bytes() for ipset in sets]
        return RegistryState(header, lambda: details, arrays, sets_bytes, indexes)

    @classmethod
    def from_state(cls, state: RegistryState) -> Registry:
        """The registry :meth:`to_state` described, answering from its compiled indexes at
        once; the per-grant objects (for changes, ``explain``, records) are made from the
        columns on first need. Nothing is validated again: the state is only ever written
        from a registry that accepted every record."""
        registry = cls()
        header = state.header
        registry.version = header["version"]
        names = header["categories"]
        registry._codes = {name: code for code, name in enumerate(names)}
        registry._names = list(names)
        registry._stored_sets = state.sets
        registry._all_set = registry._category_sets = None
        if state.indexes is not None:
            registry._indexes = state.indexes
            grants = sum(index.size for index in state.indexes.values() if index is not None)
            registry._rebuild_at = max(1024, grants // 8)
        registry._pending = state
        return registry

    def _objects(self) -> None:
        """Make a loaded state's grants into the per-grant tables, once: all those a change
        has not made yet (see :meth:`_entity`), and the times as given of all."""
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        made, self._made, self._stored = self._made, {}, None
        changed, self._entities = self._entities, {}  # made or new since the load
        self._added = dict.fromkeys(self._added, 0)
        whole = {  # the prefixes a change made: their lists hold all their grants already
            (version, network, length)
            for (version, length), table in self._tables.items()
            for network in table
        }
        meta, arrays = state.details(), state.arrays
        registry, names = self, self._names
        with gc_paused():
            entities = []
            for entity_id, name, category, revocations in meta["entities"]:
                entity = changed.get(entity_id)
                made_whole = entity is not None
                if not made_whole:
                    entity = _Entity(name, category, [], {when: raw for when, raw in revocations})
                registry._entities[entity_id] = entity
                entities.append((entity_id, entity, made_whole))
            for entity_id, entity in changed.items():  # new since the load, in their order
                registry._entities.setdefault(entity_id, entity)
            extra = iter(meta["raw"])
            texts = meta["prefixes"].split("\n") if len(arrays["entity"]) else []
            touched = []
            tables: dict[tuple[int, int], dict[int, list[_Grant]]] = {}
            for row, (
                (
                    number,
                    code,
                    version,
                    length,
                    high,
                    low,
                    start,
                    expires,
                    revoked,
                    until,
                    flags,
                ),
                text,
            ) in enumerate(zip(_rows(arrays), texts, strict=True)):
                # one float object where apply shares one too: the endless times, and the end
                if start == _ALWAYS:
                    start = _ALWAYS
                if expires == math.inf:
                    expires = math.inf
                if revoked == math.inf:
                    revoked = math.inf
                if until == expires:
                    until = expires
                elif until == revoked:
                    until = revoked
                entity_id, entity, made_whole = entities[number]
                raw = (
                    _raw_value(flags & 3, start, extra),
                    _raw_value(flags >> 2 & 3, expires, extra),
                    _raw_value(flags >> 4 & 3, revoked, extra),
                )
                grant = made.get(row)
                if grant is None:
                    category = names[code]
                    grant = _Grant(entity_id, category, text, start, expires, revoked, until, raw)
                else:
                    grant.raw = raw
                if not made_whole:
                    entity.grants.append(grant)
                value = high << 64 | low
                if (version, value, length) not in whole:
                    table = tables.get((version, length))
                    if table is None:
                        table = tables[version, length] = registry._table(version, length)
                    grants = table.get(value)
                    if grants is None:
                        table[value] = [grant]
                    else:
                        grants.append(grant)
                        if len(grants) == 2:
                            touched.append(grants)
                if version == 6:
                    for alias in _mapped_alias((version, value, length)):
                        if alias in whole:
                            continue
                        grants = registry._grants_at(alias)
                        grants.append(grant)
                        if len(grants) == 2:
                            touched.append(grants)
            for grants in touched:
                grants.sort(key=_Grant.order)  # stable: the order insort gave on apply


@dataclass(frozen=True, slots=True)
class RegistryState:
    """A registry as plain data: the ``header`` (version, categories, counts), the
    ``details`` read only when grants become objects (entities, prefixes as text, the raw
    times that are not plain epoch floats), per-grant ``arrays``, the bit sets' bytes and
    the compiled index of each family (None: none stored, compiled when needed)."""

    header: dict
    details: Callable[[], dict]
    arrays: Mapping[str, np.ndarray]
    sets: Sequence[bytes]
    indexes: dict[int, GrantIndex | None] | None
    # A snapshot's grant columns and entities read a row or an entity at a time (None: the
    # arrays and the details' entities, in memory)
    stored: tuple[Columns, Entities] | None = None

    def columns(self) -> Columns:
        """The grant columns for a change's lookups (see :mod:`registry_stored`)."""
        if self.stored is not None:
            return self.stored[0]
        return ArrayColumns(dict(self.arrays), STATE_COLUMNS)

    def entities(self) -> Entities:
        """The entities for a change's lookups, found by id."""
        if self.stored is not None:
            return self.stored[1]
        return ListedEntities(self.details()["entities"])


_LOW64 = (1 << 64) - 1
_ALWAYS = -math.inf  # one object shared by every grant loaded without a start
# The times as given of a grant a change made from a loaded state: read with all the others
# before anything shows them (records, explain, snapshots make every grant first).
_UNREAD: tuple[Time, Time, Time] = ("?", "?", "?")
_COLUMNS = (
    ("entity", np.int32),
    ("category", np.int32),
    ("family", np.uint8),
    ("length", np.uint8),
    ("high", np.uint64),
    ("low", np.uint64),
    ("start", np.float64),
    ("expires", np.float64),
    ("revoked", np.float64),
    ("until", np.float64),
    ("raw", np.uint8),
)
STATE_COLUMNS = tuple(name for name, _ in _COLUMNS)


def _rows(arrays: dict[str, np.ndarray], chunk: int = 1 << 16) -> Iterator[tuple]:
    """The grant rows as Python values, a chunk at a time: converting whole columns at once
    would hold eleven million temporary objects at a million grants and leave the process that
    much larger."""
    size = len(arrays["entity"])
    for first in range(0, size, chunk):
        columns = [arrays[name][first : first + chunk].tolist() for name, _ in _COLUMNS]
        yield from zip(*columns, strict=True)


def _raw_flag(raw: Time, parsed: float, extra: list) -> int:
    """How a time as given is kept: 0 absent, 1 the epoch float itself, 2 kept in ``extra``."""
    if raw is None:
        return 0
    if type(raw) is float and raw == parsed:
        return 1
    extra.append(raw)
    return 2


def _raw_value(flag: int, parsed: float, extra: Iterator) -> Time:
    if flag == 0:
        return None
    return parsed if flag == 1 else next(extra)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk build (restored as it was afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class RegistryView:
    """A time-dependent set: the addresses registered in some categories at a given time.

    ``contains(ip, ts)`` answers one address at its time. With the C extension built it is the
    bound method of a C finder (no Python frame per call); otherwise :meth:`_contains`, the
    pure-Python reference.
    """

    __slots__ = (
        "_categories",
        "_filter",
        "_find4",
        "_find6",
        "_generation",
        "contains",
        "registry",
    )

    def __init__(self, registry: Registry, categories: frozenset[str] | None) -> None:
        self.registry = registry
        self._categories = categories
        self._generation = -1  # the registry's generation the finders were made for
        if registry_index.NATIVE is None:
            self.contains: Callable[[IP, float], bool] = self._contains
        else:
            self.contains = native_finder(registry, categories).contains

    @property
    def categories(self) -> frozenset[str] | None:
        return self._categories

    def _contains(self, ip: IP, ts: float) -> bool:
        """One address at its time: two Python calls (this and the index's finder) and C."""
        if self._generation != self.registry._generation:
            self._refresh()
        if ip[0] == 4:
            return self._find4(ip[1], ts) != NONE
        return self._filter.contains_v6(ip[1]) and self._find6(ip[1], ts) != NONE

    def _refresh(self) -> None:
        """The finders for the registry as it is now (it changed since they were made)."""
        registry = self.registry
        mask = registry.category_mask(self._categories)
        self._filter = registry.filter_set(self._categories)
        self._find4, self._find6 = registry.finders(mask, self._categories)
        self._generation = registry._generation

    def contains_batch(self, ips: Sequence[IP] | AddressColumns, ts: Sequence[float]) -> np.ndarray:
        """Membership at each address's time, from the registry's one probe per batch."""
        registry = self.registry
        if len(registry._codes) > MAX_CATEGORIES:
            found = registry._find_batch(ips, ts, self._categories)
            return np.array([grant is not None for grant in found], dtype=bool)
        _, bits = registry.probe_batch(ips, ts)
        return (bits & np.uint64(self.registry.category_mask(self._categories))) != 0


def native_finder(registry: Registry, categories: frozenset[str] | None) -> Any:
    """A C finder of ``registry`` for ``categories``, set up again from the registry whenever
    the registry's clock moved (it calls back here, then answers)."""

    def refresh() -> None:
        four, six = registry.native_families(categories)
        mask = registry.category_mask(categories)
        finder.reset(registry._generation, mask, four, six)

    finder = registry_index.NATIVE.Finder(registry._clock, refresh)
    return finder


def _routed(fast: Finder, exact: Finder, stale: IPSet, version: int) -> Finder:
    """A finder sending addresses under prefixes changed since the index was built to the
    exact path."""

    def find(value: int, ts: float) -> int:
        return exact(value, ts) if (version, value) in stale else fast(value, ts)

    return find


def _parse_grant_prefix(text: str) -> tuple[Prefix, str]:
    try:
        prefix = parse_prefix(text)
    except ValueError as exc:
        raise RecordError(f"bad prefix: {exc}", "prefixes") from None
    return prefix, network_text(*prefix)


def _mapped_alias(prefix: Prefix) -> list[Prefix]:
    """An IPv6 prefix covering ``::ffff:0:0/96`` also covers every IPv4 address."""
    return [(4, 0, 0)] if covers_mapped(prefix) else []


def _update_entity(entity: _Entity, record: RegistryRecord) -> bool:
    changed = False
    if record.name is not None and record.name != entity.name:
        entity.name = record.name
        changed = True
    if record.category and record.category != entity.category:
        entity.category = record.category
        changed = True
    return changed
