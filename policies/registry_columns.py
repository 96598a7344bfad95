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
from collections.abc import Sequence
from itertools import chain, compress, repeat
from typing import NamedTuple

import numpy as np

from policysim.policies.ipset import IPSet
from policysim.policies.prefixes import (
    PrefixColumns,
    chunks,
    covers_mapped,
    parse_prefix,
)
from policysim.policies.registry import Registry, RegistryState, gc_paused
from policysim.policies.registry_index import MAX_CATEGORIES, GrantIndex
from policysim.policies.timestamps import parse_timestamp

Columns = dict[str, list[str]]


class Rows(NamedTuple):
    """A plain file's rows as parallel columns, parsed: what applying them in order reads."""

    entity_ids: list[str]
    names: list[str | None]
    categories: list[str]
    prefixes: PrefixColumns
    starts: np.ndarray
    expires: np.ndarray
    revoked: np.ndarray


def plain_columns(body: str, header: list[str]) -> Columns | None:
    """The data lines (``body``: each ended by a line break, the last one may lack it) split
    into stripped columns, or None when a line is not plain (quotes, a field too many or too
    few, a blank line the record path skips, no line at all). No list of lines is made: a
    million of them cost a second of splitting and joining."""
    width = len(header)
    if '"' in body or not body:
        return None
    fields = body.replace("\n", ",").split(",")
    if body.endswith("\n"):
        fields.pop()  # after the last line break: no line
    if len(fields) % width or width - 1 != _commas_per_line(body):
        return None
    where = {column: at for at, column in enumerate(header)}  # a repeated column: the last
    columns = {column: fields[at::width] for column, at in where.items()}
    if not _has_blanks(body):
        return columns
    return {column: _stripped(values) for column, values in columns.items()}


def _commas_per_line(body: str) -> int:
    """How many commas each line holds, and -1 when lines hold different counts."""
    text = np.frombuffer(body.encode(), np.uint8)
    breaks = np.flatnonzero(text == ord("\n"))
    if len(breaks) and breaks[-1] == len(text) - 1:
        breaks = breaks[:-1]  # the last line's end
    ends = np.append(breaks, len(text))
    counts = np.diff(np.searchsorted(np.flatnonzero(text == ord(",")), ends), prepend=0)
    return int(counts[0]) if (counts == counts[0]).all() else -1


def _has_blanks(text: str) -> bool:
    """Whether any field could need stripping: a blank character (line breaks apart) or a
    character beyond ASCII (some are blanks too)."""
    return not text.isascii() or any(blank in text for blank in " \t\x0b\x0c\x1c\x1d\x1e\x1f")


def _stripped(column: list[str]) -> list[str]:
    """The fields without surrounding blanks; a column without any is kept as it is."""
    return column if not _has_blanks("".join(column)) else list(map(str.strip, column))


def build(columns: Columns, size: int) -> Registry | None:
    """The registry of a plain file's ``columns`` (``size`` rows), or None when some row is
    one the record path must judge."""
    with gc_paused():  # millions of tuples, no cycles: collections would cost more than the work
        return _build(columns, size)


def _build(columns: Columns, size: int) -> Registry | None:
    entity_ids, categories = columns["entity_id"], columns["category"]
    if not all(entity_ids) or not all(categories):
        return None
    parsed = _prefixes(columns["prefix"])
    if parsed is None:
        return None
    prefixes, canonical = parsed
    times = _times(columns.get("registered_at"), -math.inf, size)
    expiries = _times(columns.get("expires_at"), math.inf, size)
    revocations = _times(columns.get("revoked_at"), math.inf, size)
    if times is None or expiries is None or revocations is None:
        return None
    starts, start_raw = times
    expires, expires_raw = expiries
    revoked, revoked_raw = revocations
    if (expires <= starts).any():
        return None
    names = [name or None for name in columns["name"]]
    rows = Rows(entity_ids, names, categories, prefixes, starts, expires, revoked)
    texts = np.where(canonical, np.array(columns["prefix"], object), None)
    return Registry.from_state(_state(rows, (start_raw, expires_raw, revoked_raw), texts))


def _prefixes(texts: list[str]) -> tuple[PrefixColumns, np.ndarray] | None:
    """Every prefix parsed, and whether each text is the canonical one (as ``network_text``
    writes it; False: not known); None on a bad one. IPv4 texts are packed in one
    ``inet_pton`` pass, IPv6 texts without a zone or a dotted tail in another, the rest one
    by one."""
    count = len(texts)
    canonical = np.zeros(count, bool)
    columns = PrefixColumns(
        np.full(count, 4, np.uint8),
        np.zeros(count, np.uint8),
        np.zeros(count, np.uint64),
        np.zeros(count, np.uint64),
    )
    if not all(texts):
        return None
    v6 = np.fromiter(map(operator.contains, texts, repeat(":")), bool, count)
    v6_texts = list(compress(texts, v6))
    v6_at = np.flatnonzero(v6)
    one_by_one: list[int] = []
    joined = "".join(v6_texts)
    if "%" in joined or "." in joined:  # a zone or a dotted tail: parse_ip reads those
        odd = np.fromiter((any(c in text for c in "%.") for text in v6_texts), bool, len(v6_at))
        one_by_one, v6_at = v6_at[odd].tolist(), v6_at[~odd]
        v6_texts = list(compress(v6_texts, ~odd))
    for family, rows, family_texts in (
        (4, np.flatnonzero(~v6), list(compress(texts, ~v6))),
        (6, v6_at, v6_texts),
    ):
        packed = _packed(family, family_texts)
        if packed is None:
            return None
        high, low, lengths, canonical[rows] = packed
        if family == 6:  # an IPv4-mapped address is IPv4: parse_prefix folds it
            mapped = (high == 0) & (low >> np.uint64(32) == np.uint64(0xFFFF))
            one_by_one += rows[mapped].tolist()
            rows, high, low, lengths = (column[~mapped] for column in (rows, high, low, lengths))
            columns.family[rows] = 6
        columns.length[rows], columns.high[rows], columns.low[rows] = lengths, high, low
    for at in one_by_one:
        try:
            family, value, length = parse_prefix(texts[at])
        except ValueError:
            return None
        columns.family[at], columns.length[at] = family, length
        columns.high[at], columns.low[at] = value >> 64, value & _LOW64
        canonical[at] = False
    return columns, canonical


def _packed(
    family: int, texts: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool] | None:
    """Prefix texts of one family as network high and low words and lengths, packed by
    ``inet_pton`` in one pass, and whether every text is canonical (IPv6: not known); None
    on a bad address, length or host bits."""
    split = _split_lengths(texts, _WIDTH[family])
    if split is None:
        return None
    addresses, lengths, canonical = split
    kind = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        packed = b"".join(map(socket.inet_pton, repeat(kind, len(addresses)), addresses))
    except (OSError, ValueError):
        return None
    if family == 4:
        high = np.zeros(len(texts), np.uint64)
        low = np.frombuffer(packed, ">u4").astype(np.uint64)
        host = low & ((np.uint64(1) << (32 - lengths).astype(np.uint64)) - np.uint64(1))
        octets = [low >> np.uint64(shift) & np.uint64(255) for shift in (24, 16, 8, 0)]
        digits = sum(int((1 + (octet >= 10) + (octet >= 100)).sum()) for octet in octets)
        # inet_pton takes no leading zeros: one address more than canonical would be longer
        canonical = canonical and sum(map(len, addresses)) == digits + 3 * len(addresses)
    else:
        canonical = False
        words = np.frombuffer(packed, ">u8").astype(np.uint64)
        high, low = words[0::2], words[1::2]
        below = (128 - lengths).astype(np.uint64)  # host bits: 0 to 128
        low_mask = np.where(below >= 64, _ALL64, (np.uint64(1) << np.minimum(below, 63)) - 1)
        high_mask = np.where(
            below > 64, (np.uint64(1) << np.clip(below - 64, 0, 63)) - 1, np.uint64(0)
        )
        high_mask[below == 128] = _ALL64
        host = (low & low_mask) | (high & high_mask)
    if host.any():
        return None
    return high, low, lengths.astype(np.uint8), canonical


def _split_lengths(texts: list[str], width: int) -> tuple[list[str], np.ndarray, bool] | None:
    """Prefix texts as addresses and lengths (``width`` when none is given), in a few passes
    over all of them at once, and whether every length was written as canonical text does;
    None when a length is not 0 to ``width`` in plain digits."""
    joined = "\n".join(texts)
    slashed = joined.count("/") == len(texts)
    if slashed:  # every text has a length: split them all at once
        parts = joined.replace("/", "\n").split("\n") if texts else []
        addresses, digits = parts[0::2], parts[1::2]
    else:
        halves = [text.partition("/") for text in texts]
        addresses = [address for address, _, _ in halves]
        digits = [length if slash else str(width) for _, slash, length in halves]
    try:  # canonical texts, the common case: looked up
        lengths = np.fromiter(map(_LENGTHS.__getitem__, digits), np.int64, len(digits))
        canonical = slashed
    except KeyError:
        text = "".join(digits)
        if not all(digits) or not text.isascii() or not text.isdigit():
            return None
        lengths = np.array(list(map(int, digits)), np.int64)
        canonical = False
    if len(lengths) and lengths.max() > width:
        return None
    return addresses, lengths, canonical


def _times(
    texts: list[str] | None, missing: float, size: int
) -> tuple[np.ndarray, list[str]] | None:
    """Epoch seconds of one time column (``missing`` where a field is empty) and the raw
    values (the texts, empty when absent), each distinct text read once; None when one does
    not read."""
    if texts is None:
        return np.full(size, missing), [""] * size
    given = np.fromiter(map(bool, texts), bool, size)
    seconds = np.full(size, missing)
    try:  # epoch seconds as text, the common case: read as parse_timestamp reads them
        found = map(float, compress(texts, texts))
        seconds[given] = np.fromiter(found, np.float64, int(given.sum()))
        plain = bool(np.isfinite(seconds[given]).all())
    except ValueError:
        plain = False
    if not plain:
        seen: dict[str, float] = {}
        try:
            read = [
                missing
                if not text
                else seen[text]
                if text in seen
                else seen.setdefault(text, parse_timestamp(text))
                for text in texts
            ]
        except ValueError:
            return None
        seconds = np.array(read, np.float64)
    return seconds, texts


def _state(rows: Rows, raws: tuple[list, list, list], texts: np.ndarray) -> RegistryState:
    """The columns :meth:`Registry.to_state` would write after applying the rows in order
    (``raws``: the time texts, empty when absent; ``texts``: each prefix's canonical text,
    None where not known)."""
    entity_ids, _, categories, prefixes, starts, expires, revoked = rows
    by_prefix = _by_prefix(prefixes)
    same = _same_as_next(prefixes.take(by_prefix))
    entities, codes, kept, version = _in_order(rows, _repeated(by_prefix, same))
    number = _entity_numbers(entity_ids, entities.ids)[kept]
    order = np.asarray(kept, np.int64)[np.argsort(number, kind="stable")]  # by entity, in order
    count = len(order)
    prefix_of = prefixes.take(order)
    category_of = np.fromiter(map(codes.__getitem__, categories), np.int32, len(categories))
    times = [column[order] for column in (starts, expires, revoked)]
    kept_raws = raws  # a file of rows grouped by entity: already in order
    if count != len(entity_ids) or (order != np.arange(count)).any():
        in_order = order.tolist()
        kept_raws = tuple(list(map(raw.__getitem__, in_order)) for raw in raws)
    given = [np.isfinite(column) for column in times]  # a time given is finite, one left out not
    flags = sum((present.astype(np.uint8) * 2) << 2 * at for at, present in enumerate(given))
    extra = list(filter(None, chain.from_iterable(zip(*kept_raws, strict=True))))  # as given
    arrays = {
        "entity": np.sort(number, kind="stable"),
        "category": category_of[order],
        **prefix_of._asdict(),
        "start": times[0],
        "expires": times[1],
        "revoked": times[2],
        "until": np.minimum(times[1], times[2]),
        "raw": np.asarray(flags, np.uint8) if count else np.zeros(0, np.uint8),
    }
    category_names = list(codes)
    entity_rank = _ranks(entities.ids)
    mapped = prefix_of.mapped_rows()
    everywhere = ((prefix_of.family == 4) & (prefix_of.length == 0)).any()
    # a dropped row repeats a kept grant, prefix and all: the kept rows hold every prefix
    distinct = ~np.append(same, False)
    v6 = int((distinct & (prefixes.family[by_prefix] == 6)).sum())
    v4 = int(distinct.sum()) - v6 + (bool(mapped) and not everywhere)
    counts = {"ipv4": v4, "ipv6": v6, "entities": len(entities.ids), "grants": count}
    header = {"version": version, "categories": category_names, "counts": counts}
    prefix_texts = "\n".join(_texts(prefix_of, texts[order]))

    def details() -> dict:
        """The entity rows made when asked (no revocations): a row object per entity kept
        from the build on would be walked by every garbage collection after it."""
        no_revocations = repeat((), len(entities.ids))
        rows = zip(*entities, no_revocations, strict=True)
        return {"entities": list(rows), "raw": extra, "prefixes": prefix_texts}

    sets = _sets(prefix_of, arrays["category"], len(category_names))
    ranks = entity_rank[arrays["entity"]] if count else arrays["entity"]
    indexes = _indexes(arrays, ranks, category_names, mapped)
    return RegistryState(header, details, arrays, sets, indexes)


def _entity_numbers(entity_ids: list[str], first_seen: list[str]) -> np.ndarray:
    """Each row's entity number, its place in order of first appearance. A file that gives
    each entity's rows together (as many runs of one id as ids) numbers them by counting the
    changes from row to row, without a lookup per row."""
    size = len(entity_ids)
    changes = np.fromiter(map(operator.ne, entity_ids[1:], entity_ids[:-1]), bool, max(size - 1, 0))
    if size and int(changes.sum()) + 1 == len(first_seen):
        return np.concatenate([np.zeros(1, np.int32), np.cumsum(changes, dtype=np.int32)])
    numbers = dict(zip(first_seen, range(len(first_seen)), strict=True))
    return np.fromiter(map(numbers.__getitem__, entity_ids), np.int32, size)


_LOW64 = (1 << 64) - 1
_ALL64 = np.uint64(_LOW64)
_WIDTH = {4: 32, 6: 128}
_LENGTH_TEXTS = [f"/{length}" for length in range(129)]
_LENGTHS = {f"{length}": length for length in range(129)}


class Entities(NamedTuple):
    """The entities in order of first appearance (their numbers), with the last name and
    category each was given."""

    ids: list[str]
    names: list[str | None]
    categories: list[str]


def _in_order(rows: Rows, shared: np.ndarray) -> tuple[Entities, dict[str, int], list[int], int]:
    """What applying the rows in order leaves: the entities, the category codes, the rows
    whose grant is new (a repeated grant is dropped, as ``apply`` drops a redelivered record)
    and the registry version (one per row that changed). ``shared``: the rows whose prefix
    other rows give too."""
    fast = _in_order_distinct(rows, shared)
    if fast is not None:
        return fast
    entities: dict[str, list] = {}  # id -> [number, name, category]
    codes: dict[str, int] = {}
    seen: set[tuple] = set()
    kept: list[int] = []
    version = 0
    for row, (entity_id, name, category, prefix, start, end, revoke) in enumerate(
        zip(*rows._replace(prefixes=rows.prefixes.tuples()), strict=True)
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
            if covers_mapped(prefix):  # also filed under 0.0.0.0/0
                seen.add(((4, 0, 0), *identity[1:]))
            kept.append(row)
            codes.setdefault(category, len(codes))
            changed = True
        version += changed
    names = [name for _, name, _ in entities.values()]
    categories = [category for _, _, category in entities.values()]
    return Entities(list(entities), names, categories), codes, kept, version


def _in_order_distinct(
    rows: Rows, shared: np.ndarray
) -> tuple[Entities, dict[str, int], list[int], int] | None:
    """:func:`_in_order` for the common file, with C-speed passes: no row repeats another's
    grant and no IPv6 prefix covers the mapped block. Every row is then kept and changes the
    registry, an entity's name and category are the last ones given, and numbers and codes
    follow first appearance. None when the file is not such a one."""
    entity_ids, names, categories, prefixes, starts, expires, revoked = rows
    size = len(entity_ids)
    candidates = shared.tolist()  # only rows of one prefix can repeat a grant
    grants = {
        (prefix, entity_ids[row], categories[row], starts[row], expires[row], revoked[row])
        for row, prefix in zip(candidates, prefixes.take(candidates).tuples(), strict=True)
    }
    if len(grants) != len(candidates) or prefixes.mapped_rows():
        return None
    final_categories = dict(zip(entity_ids, categories, strict=True))  # in order of appearance
    final_names: list[str | None] = [None] * len(final_categories)
    if any(names):  # a later row without a name keeps the earlier one
        named = dict(zip(compress(entity_ids, names), compress(names, names), strict=True))
        final_names = list(map(named.get, final_categories))
    entities = Entities(list(final_categories), final_names, list(final_categories.values()))
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
    if highs.any():
        order = np.lexsort((lows, highs, lengths))
    else:
        order = np.argsort(lengths.astype(np.int64) << 32 | lows.astype(np.int64))
    same = _same_as_next([column[order] for column in (lengths, highs, lows)])
    if same.any():  # ties sorted again, by the grant order and then by position
        shared = np.zeros(len(order), bool)
        shared[1:] |= same
        shared[:-1] |= same
        at = np.flatnonzero(shared)
        group_rows = order[at]
        keys = [group_rows, *(key[rows[group_rows]] for key in reversed(order_keys))]
        prefix = (lows[group_rows], highs[group_rows], lengths[group_rows])
        order[at] = group_rows[np.lexsort((*keys, *prefix))]
    return order


def _repeated(by_prefix: np.ndarray, same: np.ndarray) -> np.ndarray:
    """The rows whose prefix is given on more than one row (``by_prefix``: the rows in prefix
    order; ``same``: whether each there has the next one's prefix)."""
    shared = np.zeros(len(by_prefix), bool)
    shared[:-1] |= same
    shared[1:] |= same
    return np.sort(by_prefix[shared])


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's place in sorted order."""
    ranks = np.empty(len(texts), np.int64)
    ranks[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
    return ranks


def _by_prefix(prefixes: PrefixColumns) -> np.ndarray:
    """The rows in prefix order (family, length, network): the IPv4 rows by one packed key,
    then the IPv6 rows by all three."""
    family, length, high, low = prefixes
    v4, v6 = np.flatnonzero(family == 4), np.flatnonzero(family == 6)
    packed = length[v4].astype(np.int64) << 32 | low[v4].astype(np.int64)
    return np.concatenate([v4[np.argsort(packed)], v6[np.lexsort((low[v6], high[v6], length[v6]))]])


def _same_as_next(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Whether each row equals the next one in every column (one shorter than the rows)."""
    same = np.ones(max(len(columns[0]) - 1, 0), bool)
    for column in columns:
        same &= column[1:] == column[:-1]
    return same


def _texts(prefixes: PrefixColumns, known: np.ndarray) -> list[str]:
    """Canonical prefix texts (as ``network_text`` writes them): the ``known`` ones, the others
    made with every address of a family through ``inet_ntop`` in one pass."""
    texts = known.copy()
    unknown = np.equal(known, None)
    for family, kind, word in ((4, socket.AF_INET, ">u4"), (6, socket.AF_INET6, ">u8")):
        rows = np.flatnonzero(unknown & (prefixes.family == family))
        if not len(rows):
            continue
        words = [prefixes.low[rows]] if family == 4 else [prefixes.high[rows], prefixes.low[rows]]
        packed = np.stack(words, axis=1).astype(word).tobytes()
        size = len(packed) // len(rows)
        addresses = map(socket.inet_ntop, repeat(kind), chunks(packed, size))
        lengths = map(_LENGTH_TEXTS.__getitem__, prefixes.length[rows].tolist())
        texts[rows] = list(map(operator.add, addresses, lengths))
    return texts.tolist()


def _sets(prefixes: PrefixColumns, codes: np.ndarray, categories: int) -> list[bytes]:
    """The all-time union and each category's set, as snapshot bytes."""
    parts = [prefixes.take(np.flatnonzero(codes == code)) for code in range(categories)]
    sets = [IPSet.union_of(parts), *(IPSet.union_of([part]) for part in parts)]
    return [ipset.to_bytes() for ipset in sets]


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
        networks = PrefixColumns(arrays["family"][rows], lengths, highs, lows).networks()
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
