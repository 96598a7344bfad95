"""``policysim bench lookups``: IP-set and registry lookups against the usual alternatives.

Everything a target compares is measured in the same run, interleaved, so a
busy machine slows every contender alike: the targets are ratios, not
absolute rates. Each rate is the median of several rounds.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import random
import socket
import statistics
import tempfile
import time
import tracemalloc
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import pytricia
from netaddr import IPAddress
from netaddr import IPSet as NetaddrIPSet
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from policysim.app.errors import BadInput
from policysim.base.settings import Settings
from policysim.base.vocabulary import CATEGORIES
from policysim.bench import resident as resident_memory
from policysim.bench.checks import at_least
from policysim.policies import registry_snapshot
from policysim.policies.address_columns import AddressColumns
from policysim.policies.addresses import parse_ip
from policysim.policies.ipset import IPSet
from policysim.policies.registry import Registry, RegistryRecord
from policysim.policies.registry_files import load_registry, write_csv
from policysim.simulators.datafiles import data_dir

NOV_1 = 1_730_401_200.0  # 2024-11-01T00:00:00+05:00
DAY = 86_400.0
SECONDS_A_DAY = 86_400
V4_LENGTHS = (32, 32, 32, 29, 29, 28, 24, 24, 24, 22, 20, 16)
V6_LENGTHS = (29, 32, 32, 48, 48, 48, 56, 64, 64, 128)


@dataclass
class Workload:
    """Seeded registry records and queries: 30 % of the IPv4 queries hit a registered prefix.

    Grants start at whole seconds (as registry files give them) over 40 days and queries
    fall on days 14 to 44, at any fraction of a second, so many grants
    start inside the queried span, and 15 % expire inside it.
    """

    texts: list[str]
    records: list[RegistryRecord]
    v4: list[int]
    v6: list[int]
    ts: list[float]


def make_workload(size: int, queries: int, seed: int, v6_share: float = 0.2) -> Workload:
    rng = random.Random(seed)
    texts, records, v4_prefixes = [], [], []
    for i in range(size):
        if rng.random() >= v6_share:
            length = rng.choice(V4_LENGTHS)
            value = rng.getrandbits(length) << (32 - length)
            texts.append(f"{ipaddress.IPv4Address(value)}/{length}")
            v4_prefixes.append((value, length))
        else:
            length = rng.choice(V6_LENGTHS)
            value = (0x2000 << 112 | rng.getrandbits(116)) >> (128 - length) << (128 - length)
            texts.append(f"{ipaddress.IPv6Address(value)}/{length}")
        start = NOV_1 + rng.randrange(40 * SECONDS_A_DAY)  # whole seconds, as registries give
        draw = rng.random()
        expires = start + 365 * DAY if draw < 0.1 else None
        if draw > 0.85:  # 15 % expire inside the queried span
            expires = start + rng.randrange(SECONDS_A_DAY, 21 * SECONDS_A_DAY)
        category = CATEGORIES[i % len(CATEGORIES)]
        records.append(RegistryRecord(f"e{i // 2}", None, category, [texts[-1]], start, expires))
    v4 = []
    for _ in range(queries):
        if rng.random() < 0.3:
            value, length = rng.choice(v4_prefixes)
            v4.append(value + rng.getrandbits(32 - length) if length < 32 else value)
        else:
            v4.append(rng.getrandbits(32))
    v6 = [int(ipaddress.ip_network(rng.choice(texts)).network_address) if rng.random() < 0.3
          else 0x2000 << 112 | rng.getrandbits(116) for _ in range(queries // 4)]  # fmt: skip
    ts = [NOV_1 + (14 + rng.random() * 30) * DAY for _ in range(queries)]
    return Workload(texts, records, v4, v6, ts)


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _build(make: Callable[[], object]) -> tuple[object, float, int]:
    """Build a structure; return it, the seconds it took and the resident bytes it added."""
    before = _rss()
    started = time.perf_counter()
    built = make()
    seconds = time.perf_counter() - started
    return built, seconds, max(0, _rss() - before)


def _rates(contenders: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict:
    """Median items/s per contender, rounds interleaved across contenders."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, (work, count) in contenders.items():
            started = time.perf_counter()
            work()
            samples[name].append(count / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in samples.items()}


def _merged_ranges(texts: list[str], version: int) -> tuple[list[int], list[int]]:
    """What a stdlib-only user does: ipaddress networks, sorted, merged into int ranges."""
    starts: list[int] = []
    ends: list[int] = []
    networks = sorted(ipaddress.ip_network(t) for t in texts if (":" in t) == (version == 6))
    for network in networks:
        first, last = int(network.network_address), int(network.broadcast_address) + 1
        if ends and first <= ends[-1]:
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


def _pytricia(texts: list[str]) -> tuple[pytricia.PyTricia, pytricia.PyTricia]:
    v4, v6 = pytricia.PyTricia(32), pytricia.PyTricia(128)
    for text in texts:
        (v6 if ":" in text else v4).insert(text, True)
    return v4, v6


def _bisect_contains(starts: list[int], ends: list[int]) -> Callable[[int], bool]:
    def contains(value: int) -> bool:
        i = bisect_right(starts, value) - 1
        return i >= 0 and value < ends[i]

    return contains


def bench_size(size: int, args: argparse.Namespace, progress: Progress) -> dict:
    step = progress.add_task(f"{size:,} prefixes", total=6)
    work = make_workload(size, args.queries, args.seed + size)
    progress.advance(step)

    ours, ours_s, ours_rss = _build(lambda: IPSet.from_cidrs(work.texts))

    def build_registry() -> Registry:
        registry = Registry()
        with registry.bulk():
            for record in work.records:
                registry.apply(record)
        return registry

    registry, registry_s, registry_rss = _build(build_registry)
    (tri4, tri6), tri_s, tri_rss = _build(lambda: _pytricia(work.texts))
    net, net_s, net_rss = _build(lambda: NetaddrIPSet(work.texts))
    (starts, ends), bis_s, bis_rss = _build(lambda: _merged_ranges(work.texts, 4))
    floor_starts = np.array(starts, dtype=np.uint32)
    floor_ends = np.array(ends, dtype=np.int64)
    progress.advance(step)

    view = registry.view(CATEGORIES[:4])
    ips = [(4, v) for v in work.v4]
    texts4 = [socket.inet_ntoa(v.to_bytes(4)) for v in work.v4]
    net_queries = [IPAddress(v) for v in work.v4[: max(1, len(work.v4) // 20)]]
    bis = _bisect_contains(starts, ends)
    contains_v4, ts = ours.contains_v4, work.ts
    contains = view.contains  # bound once, as contains_v4 is
    n, n_net = len(ips), len(net_queries)
    per_event = _rates(
        {
            "policysim IPSet.contains_v4(int)": (lambda: [contains_v4(v) for v in work.v4], n),
            "policysim (4, int) in IPSet": (lambda: [ip in ours for ip in ips], n),
            "policysim RegistryView.contains(ip, ts)": (
                lambda: [contains(ip, t) for ip, t in zip(ips, ts, strict=True)],
                n,
            ),
            "pytricia (int key)": (lambda: [v in tri4 for v in work.v4], n),
            "pytricia (str key)": (lambda: [t in tri4 for t in texts4], n),
            "netaddr.IPSet (IPAddress)": (lambda: [a in net for a in net_queries], n_net),
            "ipaddress+bisect (int)": (lambda: [bis(v) for v in work.v4], n),
        },
        args.rounds,
    )
    progress.advance(step)

    batch_ips = (ips * (args.batch // n + 1))[: args.batch]
    batch_ts = np.resize(np.array(ts), args.batch)
    prepared = AddressColumns(batch_ips)
    values = prepared.v4

    def floor() -> np.ndarray:
        i = np.searchsorted(floor_starts, values, side="right") - 1
        return (i >= 0) & (values < floor_ends[i])

    assert np.array_equal(floor(), ours.contains_batch(prepared)), "batch path disagrees"
    nb = args.batch
    batch = _rates(
        {
            "policysim IPSet.contains_batch(AddressColumns)": (
                lambda: ours.contains_batch(prepared),
                nb,
            ),
            "policysim AddressColumns(tuples) + contains_batch": (
                lambda: ours.contains_batch(batch_ips),
                nb,
            ),
            # a fresh times array each call: the registry keeps its last probe for the same one
            "policysim RegistryView.contains_batch": (
                lambda: view.contains_batch(prepared, batch_ts.copy()),
                nb,
            ),
            "policysim Registry.categories_batch": (
                lambda: registry.categories_batch(prepared, batch_ts.copy()),
                nb,
            ),
            "numpy.searchsorted floor (merged ranges)": (floor, nb),
            "pytricia loop (int key)": (lambda: [v in tri4 for v in work.v4], n),
        },
        args.rounds,
    )
    progress.advance(step)

    v6_texts = [str(ipaddress.IPv6Address(v)) for v in work.v6]
    v6_ips = [(6, v) for v in work.v6]
    contains_v6, n6 = ours.contains_v6, len(v6_ips)
    ts6 = ts[:n6]
    ipv6 = _rates(
        {
            "policysim IPSet.contains_v6(int)": (lambda: [contains_v6(v) for v in work.v6], n6),
            "policysim (6, int) in IPSet": (lambda: [ip in ours for ip in v6_ips], n6),
            "policysim RegistryView.contains(ip, ts)": (
                lambda: [contains(ip, t) for ip, t in zip(v6_ips, ts6, strict=True)],
                n6,
            ),
            "pytricia (str key)": (lambda: [t in tri6 for t in v6_texts], n6),
        },
        args.rounds,
    )
    progress.advance(step)
    registry_figures = bench_registry_files(registry, work, prepared, batch_ts)
    progress.advance(step)
    serialized = ours.serialized_size()
    return {
        "registry": registry_figures,
        "prefixes": size,
        "build_seconds": {
            "policysim IPSet": ours_s,
            "policysim Registry": registry_s,
            "pytricia": tri_s,
            "netaddr.IPSet": net_s,
            "ipaddress merged ranges": bis_s,
        },
        "resident_bytes_per_prefix": {
            "policysim IPSet": ours_rss / size,
            "policysim Registry": registry_rss / size,
            "pytricia": tri_rss / size,
            "netaddr.IPSet": net_rss / size,
            "ipaddress merged ranges": bis_rss / size,
        },
        "serialized_bytes_per_prefix": serialized / size,
        "serialized_bytes": serialized,
        "per_event_ipv4": per_event,
        "batch_ipv4": batch,
        "per_event_ipv6": ipv6,
    }


def bench_registry_files(
    registry: Registry, work: Workload, prepared: AddressColumns, batch_ts: np.ndarray
) -> dict:
    """One registration and one revocation applied, then a batch; the snapshot compiled from
    a CSV file of the registry and loaded back (its resident bytes, a batch and a few
    addresses answered from it, then the first change, which makes its grant objects)."""
    registry.view(None).contains_batch(prepared, batch_ts.copy())  # the index is built
    updates = []
    for i, record in enumerate(work.records[:50]):
        fresh = RegistryRecord(f"new{i}", None, record.category, record.prefixes, NOV_1)
        started = time.perf_counter()
        registry.apply(fresh)
        registry.apply(RegistryRecord(f"new{i}", revoked_at=NOV_1 + 20 * DAY))
        updates.append((time.perf_counter() - started) / 2)
    started = time.perf_counter()
    registry.view(None).contains_batch(prepared, batch_ts.copy())
    batch_after = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="policysim-bench-") as folder:
        csv_path, snapshot_path = Path(folder) / "registry.csv", Path(folder) / "r.registry"
        write_csv(registry, csv_path)
        started = time.perf_counter()
        registry_snapshot.save(load_registry(csv_path), snapshot_path)
        compiled = time.perf_counter() - started
        loaded_registry, loaded, _ = _build(lambda: registry_snapshot.load(snapshot_path))
        queried = [(4, v) for v in work.v4] + [(6, v) for v in work.v6]
        resident = resident_memory.measure(
            snapshot_path, queried, work.ts + work.ts[: len(work.v6)], work.records[0].entity_id
        )
        started = time.perf_counter()
        loaded_registry.view(None).contains_batch(prepared, batch_ts.copy())
        first_batch = time.perf_counter() - started
        started = time.perf_counter()
        loaded_registry.apply(RegistryRecord("new", None, work.records[0].category, ["1.2.3.4"]))
        first_change = time.perf_counter() - started
        snapshot_bytes = snapshot_path.stat().st_size
    return {
        "update_seconds": statistics.median(updates),
        "batch_after_updates_per_second": len(batch_ts) / batch_after,
        "compile_from_csv_seconds": compiled,
        "snapshot_load_seconds": loaded,
        # in a process of its own (policysim.bench.resident): loaded, then answering
        "snapshot_loaded_resident_bytes_per_prefix": resident["loaded"] / len(work.records),
        "snapshot_resident_bytes_per_prefix": resident["answering"] / len(work.records),
        "snapshot_changed_resident_bytes_per_prefix": resident["changed"] / len(work.records),
        "first_change_in_fresh_process_seconds": resident["first_change_seconds"],
        "batch_after_load_per_second": len(batch_ts) / first_batch,
        "first_change_after_load_seconds": first_change,
        "snapshot_bytes_per_prefix": snapshot_bytes / len(work.records),
        "index_bytes_per_prefix": _index_bytes(registry) / len(work.records),
    }


def _index_bytes(registry: Registry) -> int:
    indexes = (registry.index(version) for version in (4, 6))
    return sum(index.nbytes() for index in indexes if index is not None)


def bench_parsing(count: int, seed: int, rounds: int) -> dict:
    rng = random.Random(seed)
    texts = [socket.inet_ntoa(rng.getrandbits(32).to_bytes(4)) for _ in range(count)]
    return _rates(
        {
            "ipaddress.ip_address(s)": (lambda: [ipaddress.ip_address(t) for t in texts], count),
            "int.from_bytes(inet_aton(s))": (
                lambda: [int.from_bytes(socket.inet_aton(t)) for t in texts],
                count,
            ),
            "addresses.parse_ip(s)": (
                lambda: [parse_ip(t) for t in texts],
                count,
            ),
        },
        rounds,
    )


def _traced(make: Callable[[], IPSet]) -> tuple[IPSet, float, int]:
    """Build an IPv6 set twice: timed, then traced (its ranges are Python ints, so
    tracemalloc sees all of its memory; tracing would distort the time)."""
    started = time.perf_counter()
    make()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    built = make()
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return built, seconds, memory


def bench_ipv6_memory(seed: int) -> dict:
    """The IPv6 targets: Pakistan's list < 1 MB; 20,000 mixed /29-/128 < 20 MB, < 1 s."""
    results = {}
    pk_path = data_dir(Settings()) / "cidr" / "pk-ipv6.cidr"
    if pk_path.is_file():
        pk_texts = [t for t in pk_path.read_text().split() if t and not t.startswith("#")]
        pk, seconds, memory = _traced(lambda: IPSet.from_cidrs(pk_texts))
        results["pk-ipv6"] = {
            "prefixes": len(pk_texts),
            "build_seconds": seconds,
            "memory_bytes": memory,
            "serialized_bytes": pk.serialized_size(),
        }
    rng = random.Random(seed)
    texts = []
    for _ in range(20_000):
        length = rng.randint(29, 128)
        value = rng.getrandbits(128) >> (128 - length) << (128 - length)
        texts.append(f"{ipaddress.IPv6Address(value)}/{length}")
    ipset, seconds, memory = _traced(lambda: IPSet.from_cidrs(texts))
    results["mixed-ipv6-20k"] = {
        "prefixes": len(texts),
        "build_seconds": seconds,
        "memory_bytes": memory,
        "serialized_bytes": ipset.serialized_size(),
    }
    return results


def targets(results: dict) -> list[dict]:
    """Each target with the measured value and whether it is met."""
    rows = []
    for size in results["sizes"]:
        event, batch = size["per_event_ipv4"], size["batch_ipv4"]
        tri = event["pytricia (int key)"]
        ours_event = event["policysim IPSet.contains_v4(int)"]
        ours_batch = batch["policysim IPSet.contains_batch(AddressColumns)"]
        floor = batch["numpy.searchsorted floor (merged ranges)"]
        label = f"{size['prefixes']:,}"
        view_event = event["policysim RegistryView.contains(ip, ts)"]
        view_batch = batch["policysim RegistryView.contains_batch"]
        ipv6 = size["per_event_ipv6"]
        view_v6 = ipv6["policysim RegistryView.contains(ip, ts)"] / ipv6["pytricia (str key)"]
        files = size["registry"]
        rows += [
            (f"{label}: per address / pytricia", ours_event / tri, ">=", 2),
            (f"{label}: batch / numpy floor", ours_batch / floor, ">=", 0.8),
            (f"{label}: batch / pytricia", ours_batch / tri, ">=", 3),
            (f"{label}: registry per address / IPSet", view_event / ours_event, ">=", 0.8),
            (f"{label}: registry per address / pytricia", view_event / tri, ">=", 2),
            (f"{label}: registry IPv6 per address / pytricia", view_v6, ">=", 1.5),
            (f"{label}: registry batch / numpy floor", view_batch / floor, ">=", 0.8),
        ]
        if size["prefixes"] >= 1_000_000:
            rows += [
                (f"{label}: registry resident bytes/prefix",
                 size["resident_bytes_per_prefix"]["policysim Registry"], "<=", 64),
                (f"{label}: registry resident bytes/prefix, from a snapshot",
                 files["snapshot_resident_bytes_per_prefix"], "<=", 64),
                (f"{label}: the same after changes",
                 files["snapshot_changed_resident_bytes_per_prefix"], "<=", 64),
                (f"{label}: registry snapshot load seconds", files["snapshot_load_seconds"],
                 "<", 1),
                (f"{label}: registry compile from CSV seconds",
                 files["compile_from_csv_seconds"], "<", 10),
            ]  # fmt: skip
    ipv6 = results["ipv6"]
    if "pk-ipv6" in ipv6:
        rows.append(("pk-ipv6: MB in memory", ipv6["pk-ipv6"]["memory_bytes"] / 1e6, "<", 1))
    mixed = ipv6["mixed-ipv6-20k"]
    rows.append(("20k mixed IPv6: MB in memory", mixed["memory_bytes"] / 1e6, "<", 20))
    rows.append(("20k mixed IPv6: build seconds", mixed["build_seconds"], "<", 1))
    return [
        {"target": name, "value": value, "goal": f"{op} {goal}",
         "met": {">=": value >= goal, "<=": value <= goal, "<": value < goal}[op]}
        for name, value, op, goal in rows
    ]  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    at_least(args, 1, "--queries", "--batch", "--rounds")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise BadInput(f"--sizes {args.sizes}: prefix counts separated by commas") from None
    if not sizes or min(sizes) < 1:
        raise BadInput(f"--sizes {args.sizes}: prefix counts of at least 1")
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        results = {
            "sizes": [bench_size(size, args, progress) for size in sizes],
            "parsing": bench_parsing(args.queries, args.seed, args.rounds),
            "ipv6": bench_ipv6_memory(args.seed),
        }
    results["targets"] = targets(results)
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        render(results, Console())
    return 0


def _mps(rate: float) -> str:
    return f"{rate / 1e6:.2f} M/s"


def render(results: dict, console: Console) -> None:
    sizes = results["sizes"]
    heads = [f"{s['prefixes']:,} prefixes" for s in sizes]
    sections = [
        ("build (s)", "build_seconds", lambda v: f"{v:.3f}"),
        ("resident bytes/prefix", "resident_bytes_per_prefix", lambda v: f"{v:,.0f}"),
        ("IPv4 per event", "per_event_ipv4", _mps),
        ("IPv4 batch", "batch_ipv4", _mps),
        ("IPv6 per event", "per_event_ipv6", _mps),
    ]
    table = Table(title="policysim bench lookups (medians; mixed IPv4+IPv6 registries)")
    table.add_column("measure")
    table.add_column("contender")
    for head in heads:
        table.add_column(head, justify="right")
    for title, key, fmt in sections:
        for contender in sizes[0][key]:
            table.add_row(title, contender, *(fmt(s[key][contender]) for s in sizes))
        table.add_section()
    table.add_row("serialized bytes/prefix", "policysim IPSet snapshot",
                  *(f"{s['serialized_bytes_per_prefix']:.1f}" for s in sizes))  # fmt: skip
    console.print(table)
    registry = Table(title="registry updates and files")
    registry.add_column("measure")
    for head in heads:
        registry.add_column(head, justify="right")
    for key, fmt in (
        ("update_seconds", lambda v: f"{v * 1e6:,.0f} µs"),
        ("batch_after_updates_per_second", _mps),
        ("compile_from_csv_seconds", lambda v: f"{v:.2f} s"),
        ("snapshot_load_seconds", lambda v: f"{v:.2f} s"),
        ("snapshot_loaded_resident_bytes_per_prefix", lambda v: f"{v:,.0f}"),
        ("snapshot_resident_bytes_per_prefix", lambda v: f"{v:,.0f}"),
        ("snapshot_changed_resident_bytes_per_prefix", lambda v: f"{v:,.0f}"),
        ("batch_after_load_per_second", _mps),
        ("first_change_after_load_seconds", lambda v: f"{v:.3f} s"),
        ("first_change_in_fresh_process_seconds", lambda v: f"{v:.3f} s"),
        ("snapshot_bytes_per_prefix", lambda v: f"{v:.1f}"),
        ("index_bytes_per_prefix", lambda v: f"{v:.1f}"),
    ):
        registry.add_row(key.replace("_", " "), *(fmt(s["registry"][key]) for s in sizes))
    console.print(registry)
    parsing = Table(title="parsing one IPv4 address text")
    parsing.add_column("parser")
    parsing.add_column("rate", justify="right")
    for name, rate in results["parsing"].items():
        parsing.add_row(name, _mps(rate))
    console.print(parsing)
    goals = Table(title="targets")
    for column in ("target", "measured", "goal", "met"):
        goals.add_column(column)
    for row in results["targets"]:
        met = "yes" if row["met"] else "NO"
        goals.add_row(row["target"], f"{row['value']:.3g}", row["goal"], met)
    console.print(goals)
