"""The cardinality core (pure) and its store: known ids, first-seen limits, the set kept across a restart."""

from __future__ import annotations

from pathlib import Path

from collector.ingest.cardinality import CardinalityGuard, Dimension, KnownIds, Limits, configured_ids
from collector.storage.known_ids import KnownIdStore
from shopfloor.contract import Kind, Topic

LIMITS = Limits(max_sites=2, max_devices_per_site=3, max_stations_per_site=1, max_edges_per_site=1)
CONFIGURED = configured_ids({"gent": ("main", {"bench-1": "plug-1"})})


def test_configured_ids_are_known_and_do_not_count_against_the_limits() -> None:
    known = KnownIds(Limits(0, 0, 0, 0), CONFIGURED)
    assert known.admit("gent", Dimension.DEVICE, "main") == (None, [])
    assert known.admit("gent", Dimension.DEVICE, "plug-1") == (None, [])
    assert known.admit("gent", Dimension.STATION, "bench-1") == (None, [])
    why, added = known.admit("gent", Dimension.DEVICE, "m99")
    assert added == [] and why is not None
    assert "device 'm99' at site 'gent'" in why and "ingest.limits.max_devices_per_site = 0" in why
    why, _ = known.admit("nowhere", Dimension.DEVICE, "main")
    assert why is not None and why.startswith("site 'nowhere'") and "ingest.limits.max_sites = 0" in why


def test_first_seen_ids_fill_the_limit_then_are_refused() -> None:
    known = KnownIds(LIMITS, CONFIGURED)
    assert known.admit("lab", Dimension.DEVICE, "m1") == (None, [("lab", "site", "lab"), ("lab", "device", "m1")])
    assert known.admit("lab", Dimension.DEVICE, "m1") == (None, [])  # known now
    assert known.admit("lab", Dimension.DEVICE, "m2")[0] is None
    assert known.admit("lab", Dimension.DEVICE, "m3")[0] is None
    assert known.admit("lab", Dimension.DEVICE, "m4")[0] is not None  # the 4th first-seen device
    assert known.admit("gent", Dimension.DEVICE, "m4")[0] is None  # per site: gent has room
    assert known.admit("lab", Dimension.STATION, "s1")[0] is None
    assert known.admit("lab", Dimension.STATION, "s2")[0] is not None
    assert known.admit("shed", Dimension.EDGE, "pi")[0] is None  # the 2nd first-seen site
    refused, added = known.admit("attic", Dimension.EDGE, "pi")
    assert refused is not None and refused.startswith("site 'attic'") and added == []
    assert known.known_site("shed") and not known.known_site("attic")


def test_a_refused_site_takes_no_slot_from_its_ids() -> None:
    known = KnownIds(Limits(max_sites=0), CONFIGURED)
    for i in range(100):
        assert known.admit(f"fake-{i}", Dimension.DEVICE, "main")[0] is not None
    assert known.admit("gent", Dimension.DEVICE, "new")[0] is None


def test_the_known_set_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "known.sqlite"
    store = KnownIdStore(path)
    refused: list[Dimension] = []
    guard = CardinalityGuard(KnownIds(LIMITS, CONFIGURED, store.load()), store.add, refused.append)
    topic = Topic("shopfloor", "lab", "m1", Kind.READING)
    assert guard.refuses(topic) is None
    assert guard.refuses(topic) is None  # the hot path: already admitted
    assert guard.refuses(Topic("shopfloor", "shed", "pi", Kind.STATUS)) is None
    third = guard.refuses(Topic("shopfloor", "attic", "pi", Kind.STATUS))
    assert third is not None and third.startswith("cardinality_limit: site 'attic'")
    assert refused == [Dimension.SITE]
    assert guard.known_site("attic") is None and guard.known_site("lab") == "lab"
    store.close()

    again = KnownIdStore(path)
    assert sorted(again.load()) == [
        ("lab", "device", "m1"),
        ("lab", "site", "lab"),
        ("shed", "edge", "pi"),
        ("shed", "site", "shed"),
    ]
    after = CardinalityGuard(KnownIds(LIMITS, CONFIGURED, again.load()), again.add)
    assert after.refuses(Topic("shopfloor", "lab", "m1", Kind.READING)) is None
    # Both first-seen site slots were taken before the restart: still taken after it.
    assert after.refuses(Topic("shopfloor", "attic", "pi", Kind.STATUS)) is not None
    assert after.refuses_station("gent", "bench-1") is None
    assert after.refuses_station("lab", "s1") is None
    assert after.refuses_station("lab", "s2") is not None
    again.close()
