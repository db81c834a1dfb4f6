"""``shopfloor collector ...``: run, check, init-db, dead-letters list|show|requeue, token create|list|revoke|pair.

Only argparse at module level; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from collector.token_cli import add_token_parser

if TYPE_CHECKING:
    from collector.settings import CollectorSettings
    from collector.storage.dead_letters import DeadLetterStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    parser = subparsers.add_parser("collector", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="collector_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="subscribe, spool, write to InfluxDB and serve the HTTP API until stopped")
    run.add_argument("config", type=Path, help="collector.yaml")
    run.set_defaults(handler=_run)

    check = sub.add_parser("check", help="validate collector.yaml (and environment overrides) and print the result")
    check.add_argument("config", type=Path)
    check.set_defaults(handler=_check)

    init = sub.add_parser(
        "init-db", help="create the database, retention policies and continuous query (1.x), or check the bucket (2.x)"
    )
    init.add_argument("config", type=Path)
    init.add_argument(
        "--rebuild-rollup",
        type=float,
        metavar="DAYS",
        help="also re-aggregate the last DAYS of raw meter data into rollup.meter_1m (after importing history)",
    )
    init.set_defaults(handler=_init_db)

    letters = sub.add_parser("dead-letters", help="list, show and requeue messages the collector could not use")
    letters_sub = letters.add_subparsers(dest="dead_letters_command", metavar="ACTION", required=True)
    listing = letters_sub.add_parser("list", help="dead letters not yet requeued, oldest first")
    listing.add_argument("config", type=Path)
    listing.add_argument("--kind", choices=["contract", "write_rejected"])
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--requeued", action="store_true", help="list those already requeued instead")
    listing.set_defaults(handler=_list)
    show = letters_sub.add_parser("show", help="one dead letter with its reason and raw payload")
    show.add_argument("config", type=Path)
    show.add_argument("id", type=int)
    show.set_defaults(handler=_show)
    again = letters_sub.add_parser(
        "requeue",
        help="re-validate dead letters and move the valid ones into the spool (after an upgrade or an edit)",
    )
    again.add_argument("config", type=Path)
    again.add_argument("ids", type=int, nargs="*", help="dead letter ids")
    again.add_argument("--all", action="store_true", help="every dead letter not yet requeued")
    again.add_argument("--payload", type=Path, help="file with the edited payload (one id only)")
    again.set_defaults(handler=_requeue)

    add_token_parser(sub)


def _run(args: argparse.Namespace) -> int:
    import logging

    from collector.service import run
    from collector.settings import load_settings

    if args.verbose == 0:
        # A service's log says when it started, what it connected to and when it stopped: the collector's
        # INFO lines (a handful per run), with warnings from everything else.
        logging.getLogger("collector").setLevel(logging.INFO)
    return run(load_settings(args.config))


def _check(args: argparse.Namespace) -> int:
    from collector.ingest.mqtt import subscription_filter
    from collector.settings import InfluxV1Settings, load_settings

    settings = load_settings(args.config)
    influx = settings.influx
    target = (
        f"InfluxDB 1.x {influx.url} database {influx.database}"
        if isinstance(influx, InfluxV1Settings)
        else f"InfluxDB 2.x {influx.url} org {influx.org} bucket {influx.bucket}"
    )
    print(f"{args.config}: ok")
    broker = f"{settings.broker.host}:{settings.broker.port}"
    print(f"  collector {settings.collector_id}: {broker} {subscription_filter(settings)}")
    print(f"  -> {target}; spool {settings.spool.path}; dead letters {settings.dead_letters.path}")
    print(f"  HTTP on {settings.http.host}:{settings.http.port}")
    return 0


def _init_db(args: argparse.Namespace) -> int:
    from collector.influx.client import InfluxError
    from collector.influx.init_db import init_db
    from collector.settings import load_settings
    from shopfloor.cli import CliError

    settings = load_settings(args.config)
    try:
        done = init_db(settings)
    except InfluxError as exc:
        raise CliError(str(exc)) from None
    for line in done:
        print(f"ok: {line}")
    if args.rebuild_rollup:
        import time

        from collector.drain.rollup import rebuild_rollup
        from collector.settings import InfluxV1Settings

        if not isinstance(settings.influx, InfluxV1Settings):
            raise CliError("--rebuild-rollup needs InfluxDB 1.x: 2.x/3.x have no continuous queries (use a task)")
        try:
            spans = rebuild_rollup(settings.influx, args.rebuild_rollup, time.time_ns())
        except InfluxError as exc:
            raise CliError(str(exc)) from None
        print(f"ok: rollup.meter_1m rebuilt for the last {args.rebuild_rollup:g} days ({spans} queries)")
    return 0


def _store(config: Path) -> tuple[CollectorSettings, DeadLetterStore]:
    from collector.settings import load_settings
    from collector.storage.dead_letters import DeadLetterStore

    settings = load_settings(config)
    return settings, DeadLetterStore.open(settings.dead_letters)


def _list(args: argparse.Namespace) -> int:
    import datetime as dt

    _, store = _store(args.config)
    letters = store.entries(args.limit, 0, args.kind, args.requeued)
    for letter in letters:
        when = dt.datetime.fromtimestamp(letter.received_at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        where = letter.topic or "(InfluxDB write)"
        print(f"{letter.id:>6}  {when}  {letter.kind:<14} {where}  {letter.reason}")
    total = store.count(args.kind)
    print(f"{len(letters)} shown, {total} not requeued")
    return 0


def _show(args: argparse.Namespace) -> int:
    from shopfloor.cli import CliError

    _, store = _store(args.config)
    letter = store.get(args.id)
    if letter is None:
        raise CliError(f"no dead letter {args.id}. Fix: see 'shopfloor collector dead-letters list'")
    print(f"id:        {letter.id}\nkind:      {letter.kind}\ntopic:     {letter.topic or '(InfluxDB write)'}")
    print(f"received:  {letter.received_at_ms} (ms)\nseen:      {letter.seen}\nreason:    {letter.reason}")
    print(f"requeued:  {letter.requeued_at_ms or 'no'}\npayload:")
    print(letter.payload.decode(errors="backslashreplace"))
    return 0


def _requeue(args: argparse.Namespace) -> int:
    from collector.ingest.cardinality import guard_for
    from collector.ingest.requeue import requeue
    from collector.metrics import CollectorMetrics
    from collector.storage.items import ItemStore, item_index_path
    from collector.storage.known_ids import KnownIdStore, known_ids_path
    from collector.storage.spool import Spool
    from shopfloor.cli import CliError

    if args.all == bool(args.ids):
        raise CliError("give dead letter ids, or --all (not both)")
    if args.payload is not None and (args.all or len(args.ids) != 1):
        raise CliError("--payload edits one dead letter: give exactly one id")
    settings, store = _store(args.config)
    edited = args.payload.read_bytes() if args.payload is not None else None
    spool = Spool(settings.spool.path, settings.spool.max_rows, settings.spool.max_bytes)
    items = ItemStore(item_index_path(settings.spool.path))
    known = KnownIdStore(known_ids_path(settings.spool.path))
    guard = guard_for(settings, known, CollectorMetrics())
    ids = store.open_ids() if args.all else args.ids
    failed = 0
    for letter_id in ids:
        result = requeue(
            store,
            spool,
            letter_id,
            prefix=settings.broker.prefix,
            edited_payload=edited,
            item_index=items,
            on_event=items.record,
            admit=guard.refuses,
            max_future_skew_s=settings.subscription.max_future_skew_s,
        )
        failed += not result.ok
        print(f"{letter_id}: {'requeued' if result.ok else 'kept'}: {result.detail}")
    spool.close()
    items.close()
    known.close()
    print(f"{len(ids) - failed} requeued, {failed} kept")
    return 0 if failed == 0 else 1
