"""The readers turn every data line into an event or a counted rejection."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from policysim.base.settings import Settings
from policysim.policies.model import REJECT_REASONS, Event, Rejection, encode
from policysim.simulators.datafiles import data_dir
from policysim.simulators.logfiles import ReaderError, parse_csv_mapping, read_events

ZEEK = data_dir(Settings()) / "zeek"
ZEEK_FILES = ["conn-lan-2009.tsv.log", "conn-ipv6-sensor.json.log", "conn-ad.json.log"]

TSV_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\t_node_name\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice"
    "\tduration\torig_bytes\tresp_bytes\textra\n"
    "#types\tstring\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount"
    "\tstring\n"
)


def _data_lines(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith("#"))


def _split(items):
    events = [i for _, i in items if isinstance(i, Event)]
    rejects = [i for _, i in items if isinstance(i, Rejection)]
    return events, rejects


@pytest.mark.parametrize("name", ZEEK_FILES)
def test_real_zeek_logs_every_line_accounted(name: str) -> None:
    path = ZEEK / name
    if not path.is_file():
        pytest.skip(f"shared data absent: {path}")
    items = list(read_events(path))
    events, rejects = _split(items)
    assert len(events) + len(rejects) == len(items) == _data_lines(path)
    assert all(r.reason in REJECT_REASONS and r.source.startswith(f"{path}:") for r in rejects)
    assert len(events) > 0.9 * len(items)
    assert len({e.id for e in events}) == len(events)
    assert all(e.proto in {"tcp", "udp", "icmp", "unknown_transport"} for e in events)


def test_zeek_tsv_maps_by_header_with_gzip_and_missing_close(tmp_path: Path) -> None:
    rows = [
        "n1\t1700000000.5\tCa1\t10.0.0.1\t5000\t1.1.1.1\t53\tudp\tdns\t0.1\t40\t80\tx",
        "n1\t1700000001.0\tCa2\t2001:db8::1\t6000\t2001:db8::2\t443\ttcp\t-\t-\t-\t-\tx",
        "n1\t1700000002.0\tCa3\tnot-an-ip\t1\t1.1.1.1\t2\ttcp\t(empty)\t-\t-\t-\tx",
        "n1\t1700000003.0\tCa4\t10.0.0.1\t99999\t1.1.1.1\t2\ttcp\t-\t-\t-\t-\tx",
        "n1\tshort",
    ]
    path = tmp_path / "conn.log.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(TSV_HEADER + "\n".join(rows) + "\n")
    items = list(read_events(path))
    events, rejects = _split(items)
    assert [e.id for e in events] == ["Ca1", "Ca2"]
    first = events[0]
    assert (first.src, first.sport, first.dst, first.dport, first.app) == (
        "10.0.0.1",
        5000,
        "1.1.1.1",
        53,
        "dns",
    )
    assert (first.bytes_out, first.bytes_in, first.duration) == (40, 80, 0.1)
    assert first.ts == 1700000000.5
    assert events[1].app is None and events[1].bytes_out is None
    assert [r.reason for r in rejects] == ["bad_address", "bad_value", "bad_value"]
    assert [r.source for r in rejects] == [f"{path}:{n}" for n in (10, 11, 12)]


def test_zeek_json_lines_and_our_jsonl(tmp_path: Path) -> None:
    ours = Event(id="e1", ts=1.0, src="10.0.0.1", sport=1, dst="10.0.0.2", dport=2, proto="udp")
    lines = [
        b'{"ts":5.0,"uid":"C1","id.orig_h":"10.0.0.9","id.orig_p":1,"id.resp_h":"10.0.0.8",'
        b'"id.resp_p":51820,"proto":"udp"}',
        encode(ours),
        b"not json",
        b"[1,2]",
        b'{"id":"x"}',
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    items = list(read_events(path))
    events, rejects = _split(items)
    assert [e.id for e in events] == ["C1", "e1"]
    assert events[0].dport == 51820 and events[0].app is None
    assert [r.reason for r in rejects] == ["not_json", "not_an_event", "missing_field"]
    assert [n for n, _ in items] == [1, 2, 3, 4, 5]


def test_csv_with_mapping_and_generated_ids(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    path.write_text(
        "time,source,destination,port,transport,label\n"
        "1700000000,10.1.1.1,10.2.2.2,1194,UDP,openvpn\n"
        "1700000001,10.1.1.1,10.2.2.2,abc,udp,openvpn\n"
        "1700000002,10.1.1.1\n"
    )
    mapping = parse_csv_mapping(
        "ts=time,src=source,dst=destination,dport=port,proto=transport,app=label"
    )
    with pytest.raises(ReaderError):
        list(read_events(path, "csv"))  # no sport column: the default mapping lacks fields
    mapping["sport"] = "port"
    items = list(read_events(path, "csv", mapping))
    events, rejects = _split(items)
    assert len(events) == 1 and events[0].proto == "udp" and events[0].id == f"{path}:2"
    assert Counter(r.reason for r in rejects) == {"wrong_type": 1, "bad_value": 1}


def test_csv_default_mapping_uses_event_field_names(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "id,ts,src,sport,dst,dport,proto\na,2024-12-01T00:00:00+05:00,::1,1,::2,2,tcp\n"
    )
    [(line, event)] = list(read_events(path))
    assert line == 2 and isinstance(event, Event) and event.ts == 1732993200.0


def test_unknown_format_and_bad_mapping_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ReaderError):
        list(read_events(tmp_path / "x", "xml"))
    with pytest.raises(ReaderError):
        parse_csv_mapping("colour=c")
