"""A plain registry CSV read in bulk straight into the registry's columns.

Applying a million rows one record at a time makes a million grant objects
that a compiled registry never needs: its questions are answered from the
index columns, and a snapshot stores columns. A *plain* file -- no quotes,
every row with all its fields, every row valid (an entity id, a category, a
prefix, times that read, an end after the start) -- is read here column by
column instead: IPv4 prefixes packed by ``inet_pton`` in one pass, times read
once per distinct text, duplicates dropped, precedence, category codes,
entity order, the registry version and the indexes worked out as
:meth:`Registry.apply` would, so the result is the registry the record path
gives (the tests compare every answer, listing and count). Any file that is
not plain returns None and goes the record path, which names each problem
with its line and column.
"""

from __future__ import annotations

import math
import operator
import socket
from itertools import repeat
from typing import NamedTuple

import numpy as np

from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import MAPPED_START, Prefix, network_text, parse_prefix
from policysim.policies.registry import Registry, RegistryState, gc_paused
from policysim.policies.registry_index import MAX_CATEGORIES, GrantIndex
from policysim.policies.timestamps import parse_timestamp

Columns = dict[str, list[str]]


class Rows(NamedTuple):
    """A plain file's rows as parallel columns, parsed: what applying them in order reads."""

    entity_ids: list[str]
    names: list[str | None]
    categories: list[str]
    prefixes: list[Prefix]
    starts: list[float]
    expires: list[float]
    revoked: list[float]


def plain_columns(lines: list[str], header: list[str]) -> Columns | None:
    """The data lines split into stripped columns, or None when a line is not plain (quotes,
    a field too many or too few, a blank line the record path skips)."""
    width = len(header)
    if any(line.count(",") != width - 1 or '"' in line for line in lines):
        return None
    fields = ",".join(lines).split(",")
    if len(fields) != width * len(lines):
        return None
    where = {column: at for at, column in enumerate(header)}  # a repeated column: the last
    return {column: _stripped(fields[at::width]) for column, at in where.items()}


def _stripped(column: list[str]) -> list[str]:
    """The fields without surrounding blanks; a column of ASCII without a blank character
    (line breaks are gone already) is kept as it is."""
    text = "".join(column)
    if text.isascii() and not any(blank in text for blank in " \t\x0b\x0c\x1c\x1d\x1e\x1f"):
        return column
    return [field.strip() for field in column]


def build(columns: Columns, size: int) -> Registry | None:
    """The registry of a plain file's ``columns`` (``size`` rows), or None when some row is
    one the record path must judge."""
    with gc_paused():  # millions of tuples, no cycles: collections would cost more than the work
        return _build(columns, size)


def _build(columns: Columns, size: int) -> Registry | None:
    entity_ids, categories = columns["entity_id"], columns["category"]
    if not all(entity_ids) or not all(categories):
        return None
    prefixes = _prefixes(columns["prefix"])
    if prefixes is None:
        return None
    times = _times(columns.get("registered_at"), -math.inf, size)
    expiries = _times(columns.get("expires_at"), math.inf, size)
    revocations = _times(columns.get("revoked_at"), math.inf, size)
    if times is None or expiries is None or revocations is None:
        return None
    starts, start_raw = times
    expires, expires_raw = expiries
    revoked, revoked_raw = revocations
    if (np.array(expires, np.float64) <= np.array(starts, np.float64)).any():
        return None
    names = [name or None for name in columns["name"]]
    rows = Rows(entity_ids, names, categories, prefixes, starts, expires, revoked)
    return Registry.from_state(_state(rows, (start_raw, expires_raw, revoked_raw)))


def _prefixes(texts: list[str]) -> list[Prefix] | None:
    """Every prefix parsed (IPv4 texts in one ``inet_pton`` pass), or None on a bad one."""
    parsed: list[Prefix | None] = [None] * len(texts)
    v4_at = [i for i, text in enumerate(texts) if text and ":" not in text]
    split = _split_lengths([texts[i] for i in v4_at])
    if split is None:
        return None
    addresses, lengths = split
    try:
        packed = b"".join(map(socket.inet_pton, repeat(socket.AF_INET, len(addresses)), addresses))
    except (OSError, ValueError):
        return None
    values = np.frombuffer(packed, dtype=">u4").astype(np.int64)
    masks = np.left_shift(np.int64(1), 32 - np.array(lengths, np.int64)) - 1
    if (values & masks).any():
        return None  # host bits set
    for i, value, length in zip(v4_at, values.tolist(), lengths, strict=True):
        parsed[i] = (4, value, length)
    for i, prefix in enumerate(parsed):
        if prefix is None:
            try:
                parsed[i] = parse_prefix(texts[i])
            except ValueError:
                return None
    return parsed  # type: ignore[return-value]


def _split_lengths(texts: list[str]) -> tuple[list[str], list[int]] | None:
    """IPv4 prefix texts as addresses and lengths (32 when none is given), in a few passes
    over all of them at once; None when a length is not 0 to 32 in plain digits."""
    joined = "\n".join(texts)
    if joined.count("/") == len(texts):  # every text has a length: split them all at once
        parts = joined.replace("/", "\n").split("\n") if texts else []
        addresses, digits = parts[0::2], parts[1::2]
    else:
        halves = [text.partition("/") for text in texts]
        addresses = [address for address, _, _ in halves]
        digits = [length if slash else "32" for _, slash, length in halves]
    text = "".join(digits)
    if not all(digits) or not text.isascii() or not (text.isdigit() or not text):
        return None
    lengths = list(map(int, digits))
    if lengths and max(lengths) > 32:
        return None
    return addresses, lengths


def _times(texts: list[str] | None, missing: float, size: int) -> tuple[list, list] | None:
    """Epoch seconds and the raw values (None when absent) of one time column, each distinct
    text read once; None when one does not read."""
    if texts is None:
        return [missing] * size, [None] * size
    try:  # epoch seconds as text, the common case: read as parse_timestamp reads them
        seconds = [float(text) if text else missing for text in texts]
        plain = all(map(math.isfinite, (t for t, text in zip(seconds, texts, strict=True) if text)))
    except ValueError:
        plain = False
    if not plain:
        seen: dict[str, float] = {}
        try:
            seconds = [
                missing
                if not text
                else seen[text]
                if text in seen
                else seen.setdefault(text, parse_timestamp(text))
                for text in texts
            ]
        except ValueError:
            return None
    return seconds, [text or None for text in texts]


def _state(rows: Rows, raws: tuple[list, list, list]) -> RegistryState:
    """The columns :meth:`Registry.to_state` would write after applying the rows in order."""
    entity_ids, _, categories, prefixes, starts, expires, revoked = rows
    entities, codes, kept, version = _in_order(rows)
    numbers = {entity: found[0] for entity, found in entities.items()}
    number = np.fromiter(map(numbers.__getitem__, entity_ids), np.int32, len(entity_ids))[kept]
    order = np.asarray(kept, np.int64)[np.argsort(number, kind="stable")]  # by entity, in order
    count = len(order)
    prefix_of = list(map(prefixes.__getitem__, order.tolist()))
    category_of = np.fromiter(map(codes.__getitem__, categories), np.int32, len(categories))
    times = [np.array(column, np.float64)[order] for column in (starts, expires, revoked)]
    given = [  # (rows, 3): whether each time was given, and the values as given
        np.fromiter(map(operator.is_not, raw, repeat(None)), bool, len(raw))[order] for raw in raws
    ]
    flags = sum((present.astype(np.uint8) * 2) << 2 * at for at, present in enumerate(given))
    kept_raw = np.empty((count, 3), object)
    for at, raw in enumerate(raws):
        kept_raw[:, at] = np.array(raw, object)[order]
    extra: list = kept_raw[np.stack(given, axis=1)].tolist() if count else []
    values = [value for _, value, _ in prefix_of]
    arrays = {
        "entity": np.sort(number, kind="stable"),
        "category": category_of[order],
        "family": np.fromiter((p[0] for p in prefix_of), np.uint8, count),
        "length": np.fromiter((p[2] for p in prefix_of), np.uint8, count),
        "high": np.fromiter((value >> 64 for value in values), np.uint64, count),
        "low": np.fromiter((value & _LOW64 for value in values), np.uint64, count),
        "start": times[0],
        "expires": times[1],
        "revoked": times[2],
        "until": np.minimum(times[1], times[2]),
        "raw": np.asarray(flags, np.uint8) if count else np.zeros(0, np.uint8),
    }
    category_names = list(codes)
    entity_rows = [
        [entity_id, name, category, []] for entity_id, (_, name, category) in entities.items()
    ]
    entity_rank = np.argsort(np.argsort(np.array(list(entities), dtype=object)))
    candidates = np.flatnonzero((arrays["family"] == 6) & (arrays["high"] == 0)).tolist()
    mapped = [row for row in candidates if _covers_mapped(prefix_of[row])]
    distinct = len(set(prefix_of)) + (bool(mapped) and (4, 0, 0) not in set(prefix_of))
    v6 = len({p for p in prefix_of if p[0] == 6})
    counts = {"ipv4": distinct - v6, "ipv6": v6, "entities": len(entities), "grants": count}
    header = {"version": version, "categories": category_names, "counts": counts}
    details = {
        "entities": entity_rows,
        "raw": extra,
        "prefixes": "\n".join(_texts(prefix_of)),
    }
    sets = _sets(prefix_of, arrays["category"].tolist(), len(category_names))
    ranks = entity_rank[arrays["entity"]] if count else arrays["entity"]
    indexes = _indexes(arrays, ranks, category_names, mapped)
    return RegistryState(header, lambda: details, arrays, sets, indexes)


_LOW64 = (1 << 64) - 1


def _in_order(rows: Rows) -> tuple[dict[str, list], dict[str, int], list[int], int]:
    """What applying the rows in order leaves: each entity's [number, name, category], the
    category codes, the rows whose grant is new (a repeated grant is dropped, as ``apply``
    drops a redelivered record) and the registry version (one per row that changed)."""
    fast = _in_order_distinct(rows)
    if fast is not None:
        return fast
    entities: dict[str, list] = {}  # id -> [number, name, category]
    codes: dict[str, int] = {}
    seen: set[tuple] = set()
    kept: list[int] = []
    version = 0
    for row, (entity_id, name, category, prefix, start, end, revoke) in enumerate(
        zip(*rows, strict=True)
    ):
        entity = entities.get(entity_id)
        if entity is None:
            entity = entities[entity_id] = [len(entities), None, None]
        changed = False
        if name is not None and name != entity[1]:
            entity[1] = name
            changed = True
        if category != entity[2]:
            entity[2] = category
            changed = True
        identity = (prefix, entity_id, category, start, end, revoke)
        if identity not in seen:
            seen.add(identity)
            if _covers_mapped(prefix):  # also filed under 0.0.0.0/0
                seen.add(((4, 0, 0), *identity[1:]))
            kept.append(row)
            codes.setdefault(category, len(codes))
            changed = True
        version += changed
    return entities, codes, kept, version


def _in_order_distinct(rows: Rows) -> tuple[dict[str, list], dict[str, int], list[int], int] | None:
    """:func:`_in_order` for the common file, with C-speed passes: no row repeats another's
    grant and no IPv6 prefix covers the mapped block. Every row is then kept and changes the
    registry, an entity's name and category are the last ones given, and numbers and codes
    follow first appearance. None when the file is not such a one."""
    entity_ids, names, categories, prefixes, starts, expires, revoked = rows
    size = len(entity_ids)
    shared = _repeated(prefixes)  # only rows of one prefix can repeat a grant
    candidates = [row for row, prefix in enumerate(prefixes) if prefix in shared] if shared else []
    grants = {
        (prefixes[row], entity_ids[row], categories[row], starts[row], expires[row], revoked[row])
        for row in candidates
    }
    if len(grants) != len(candidates):
        return None
    if any(prefix[0] == 6 and _covers_mapped(prefix) for prefix in prefixes):
        return None
    final_names = dict(zip(entity_ids, names, strict=True))
    if None in final_names.values():  # a later row without a name keeps the earlier one
        named = [(entity, name) for entity, name in zip(entity_ids, names, strict=True) if name]
        final_names = {entity: None for entity in final_names} | dict(named)
    final_categories = dict(zip(entity_ids, categories, strict=True))
    entities = {
        entity: [number, final_names[entity], final_categories[entity]]
        for number, entity in enumerate(dict.fromkeys(entity_ids))
    }
    codes = {category: code for code, category in enumerate(dict.fromkeys(categories))}
    return entities, codes, list(range(size)), size


def _grant_order(
    rows: np.ndarray,
    order_keys: tuple[np.ndarray, ...],
    lengths: np.ndarray,
    highs: np.ndarray,
    lows: np.ndarray,
) -> np.ndarray:
    """The rows grouped by prefix, each group in the registry's grant order. Most prefixes
    hold one grant: the rows are sorted by the prefix alone (IPv4: one packed key), and only
    the groups of several grants sorted again by the grant order."""
    if (highs != 0).any():  # IPv6: every key at once
        keys = [np.arange(len(rows)), *(key[rows] for key in reversed(order_keys))]
        return np.lexsort((*keys, lows, highs, lengths))
    packed = lengths.astype(np.int64) << 32 | lows.astype(np.int64)
    order = np.argsort(packed, kind="stable")
    same = packed[order][1:] == packed[order][:-1]
    if same.any():
        shared = np.zeros(len(order), bool)
        shared[1:] |= same
        shared[:-1] |= same
        at = np.flatnonzero(shared)
        group_rows = order[at]
        keys = [group_rows, *(key[rows[group_rows]] for key in reversed(order_keys))]
        order[at] = group_rows[np.lexsort((*keys, packed[group_rows]))]
    return order


def _repeated(prefixes: list[Prefix]) -> set[Prefix]:
    """The prefixes given on more than one row (one pass over a set of the prefixes alone:
    hashing whole rows costs five times as much)."""
    seen: set[Prefix] = set()
    add = seen.add
    return {prefix for prefix in prefixes if prefix in seen or add(prefix)}


def _texts(prefixes: list[Prefix]) -> list[str]:
    """Canonical prefix texts (IPv4 through ``inet_ntoa``)."""
    ntoa = socket.inet_ntoa
    return [
        f"{ntoa(value.to_bytes(4))}/{length}"
        if version == 4
        else network_text(version, value, length)
        for version, value, length in prefixes
    ]


def _covers_mapped(prefix: Prefix) -> bool:
    """Whether an IPv6 prefix covers the IPv4-mapped block (its grants then also answer for
    every IPv4 address under 0.0.0.0/0)."""
    version, value, length = prefix  # aligned: covering any of the /96 is covering all of it
    return version == 6 and value <= MAPPED_START < value + (1 << (128 - length))


def _sets(prefixes: list[Prefix], codes: list[int], categories: int) -> list[bytes]:
    """The all-time union and each category's set, as snapshot bytes."""
    by_category: list[list[Prefix]] = [[] for _ in range(categories)]
    for prefix, code in zip(prefixes, codes, strict=True):
        by_category[code].append(prefix)
    sets = [IPSet.from_prefixes(found) for found in by_category]
    union = IPSet()
    for ipset in sets:
        union.update(ipset)
    return [ipset.to_bytes() for ipset in (union, *sets)]


def _indexes(
    arrays: dict[str, np.ndarray], entity_ranks: np.ndarray, names: list[str], mapped: list[int]
) -> dict[int, GrantIndex | None]:
    """Each family's index from the grant columns (``mapped``: the rows of IPv6 prefixes
    covering the mapped block, also filed under 0.0.0.0/0). A grant's position under its
    prefix is its rank by the registry's grant order: start, entity id, category, expiry,
    revocation, then the order the rows came in."""
    if len(names) > MAX_CATEGORIES:
        return {4: None, 6: None}
    category_rank = np.argsort(np.argsort(np.array(names, dtype=object)))
    order_keys = (
        arrays["start"],
        entity_ranks,
        category_rank[arrays["category"]] if len(names) else arrays["category"],
        arrays["expires"],
        arrays["revoked"],
    )
    indexes: dict[int, GrantIndex | None] = {}
    for version in (4, 6):
        rows = np.flatnonzero(arrays["family"] == version)
        lengths, highs, lows = (arrays[name][rows] for name in ("length", "high", "low"))
        if version == 4 and mapped:
            rows = np.concatenate([rows, np.array(mapped, np.int64)])
            zeros = np.zeros(len(mapped), np.uint64)
            lengths = np.concatenate([lengths, zeros.astype(np.uint8)])
            highs, lows = np.concatenate([highs, zeros]), np.concatenate([lows, zeros])
        order = _grant_order(rows, order_keys, lengths, highs, lows)
        rows, lengths, highs, lows = rows[order], lengths[order], highs[order], lows[order]
        new_group = np.ones(len(rows), bool)
        new_group[1:] = (
            (lengths[1:] != lengths[:-1]) | (highs[1:] != highs[:-1]) | (lows[1:] != lows[:-1])
        )
        first = np.flatnonzero(new_group)
        positions = np.arange(len(rows)) - np.repeat(first, np.diff(np.append(first, len(rows))))
        networks = lows.tolist()
        if version == 6:
            networks = [
                high << 64 | low for high, low in zip(highs.tolist(), networks, strict=True)
            ]
        indexes[version] = GrantIndex.from_grants(
            version,
            networks,
            lengths.astype(np.int64),
            positions,
            arrays["start"][rows],
            arrays["until"][rows],
            arrays["category"][rows].astype(np.int8),
        )
    return indexes
