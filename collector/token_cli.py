"""``shopfloor collector token create|list|revoke|pair``: the API's tokens (docs/security.md#api-tokens).

They act on the token store beside the collector's spool, so a running collector sees a new or revoked
token from its next request on: no restart. Only argparse at module level; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collector.settings import CollectorSettings
    from collector.storage.tokens import TokenStore

TOKEN_HELP = """\
API tokens for the collector's HTTP API (docs/security.md#api-tokens). Every write, the dead letters and, by
default, every read need 'Authorization: Bearer <token>'. A token belongs to one site (--site) or to every site
(--all-sites, the coordinator's), and has a scope: read, write (includes read) or admin (includes both; dead
letters; all sites only). Tokens are stored hashed beside the spool; a created or revoked token counts on the
running collector at once."""

PAIR_HELP = """\
Print a link and a QR code that pair a tablet's bench page with one station: the page exchanges the link's
one-time code (valid --valid-minutes) for a station token (write scope, that site and station) and keeps it.
Open the link on the tablet, or scan the code. Re-pair the same way after a token was revoked: the page keeps
its unsent taps meanwhile."""


def add_token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = sub.add_parser(
        "token",
        help="create, list and revoke API tokens; pair a bench page",
        description=TOKEN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tokens_sub = tokens.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = tokens_sub.add_parser(
        "create",
        help="make a token and print it once (stdout; the rest goes to stderr)",
        description="Make a token and print it once: the collector keeps only its hash. "
        "The token alone is on stdout, so TOKEN=$(shopfloor collector token create ...) works.",
    )
    create.add_argument("config", type=Path, help="collector.yaml (the token store sits beside its spool)")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--site", help="the site the token may read or write (a site id, as in the MQTT topics)")
    where.add_argument("--all-sites", action="store_true", help="every site: the coordinator, Prometheus, reports")
    create.add_argument(
        "--scope",
        required=True,
        choices=["read", "write", "admin"],
        help="read: KPIs, reports, open items; write: also station events; admin: also dead letters (--all-sites)",
    )
    create.add_argument("--station", help="with --site: only this station's events and open items")
    create.add_argument("--label", default="", help="what the token is for, shown by 'token list'")
    create.set_defaults(handler=_create)

    listing = tokens_sub.add_parser("list", help="tokens with their id, site, scope, creation and last use (no secret)")
    listing.add_argument("config", type=Path)
    listing.add_argument("--revoked", action="store_true", help="also list revoked tokens")
    listing.set_defaults(handler=_list)

    revoke = tokens_sub.add_parser("revoke", help="revoke a token by its id (see 'token list'); at once, no restart")
    revoke.add_argument("config", type=Path)
    revoke.add_argument("id", help="the token's id: the 8 hex digits after sfm_")
    revoke.set_defaults(handler=_revoke)

    pair = tokens_sub.add_parser(
        "pair",
        help="a link and QR code that pair a tablet's bench page with a station",
        description=PAIR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pair.add_argument("config", type=Path)
    pair.add_argument("--site", required=True)
    pair.add_argument("--station", required=True)
    pair.add_argument("--valid-minutes", type=float, default=10, help="how long the code may be used (default 10)")
    pair.add_argument(
        "--url", help="how the tablet reaches the collector, e.g. http://collector.lan:8080 (default api.public_url)"
    )
    pair.add_argument("--no-qr", action="store_true", help="print the link only")
    pair.set_defaults(handler=_pair)


def _store(config: Path) -> tuple[CollectorSettings, TokenStore]:
    from collector.settings import load_settings
    from collector.storage.tokens import TokenStore, token_store_path

    settings = load_settings(config)
    return settings, TokenStore(token_store_path(settings.spool.path))


def _check_id(value: str | None, what: str) -> None:
    import re

    from shopfloor.cli import CliError
    from shopfloor.contract.topics import ID_PATTERN

    if value is not None and not re.match(ID_PATTERN, value):
        raise CliError(f"--{what} {value[:64]!r} is not an id: letters, digits, '_', '.', '-', at most 64")


def _when(ms: int | None) -> str:
    import datetime as dt

    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _create(args: argparse.Namespace) -> int:
    from collector.storage.tokens import Scope
    from shopfloor.cli import CliError

    _check_id(args.site, "site")
    _check_id(args.station, "station")
    if args.scope == "admin" and not args.all_sites:
        raise CliError(
            "an admin token reads every site's dead letters: create it with --all-sites, "
            "and give site managers a --site token with the read or write scope"
        )
    if args.station and not args.site:
        raise CliError("--station needs --site: a station token belongs to one site")
    _, store = _store(args.config)
    try:
        token, text = store.create(Scope(args.scope), None if args.all_sites else args.site, args.station, args.label)
    finally:
        store.close()
    print(f"token {token.id}: scope {token.scope}, {token.where}. It is shown only now: keep it.", file=sys.stderr)
    print(text)
    return 0


def _list(args: argparse.Namespace) -> int:
    _, store = _store(args.config)
    try:
        tokens = store.tokens(include_revoked=args.revoked)
    finally:
        store.close()
    print(f"{'id':<9} {'scope':<6} {'for':<28} {'created (UTC)':<17} {'last used':<17} label")
    for token in tokens:
        state = f" (revoked {_when(token.revoked_ms)})" if token.revoked_ms is not None else ""
        print(
            f"{token.id:<9} {token.scope.value:<6} {token.where:<28} {_when(token.created_ms):<17} "
            f"{_when(token.last_used_ms):<17} {token.label}{state}"
        )
    print(f"{len(tokens)} token(s)")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from shopfloor.cli import CliError

    _, store = _store(args.config)
    try:
        if not store.revoke(args.id.removeprefix("sfm_")[:8]):
            known = store.get(args.id)
            why = "it was revoked already" if known is not None else "there is no token by that id"
            raise CliError(f"token {args.id[:16]!r} not revoked: {why}. Fix: see 'shopfloor collector token list'")
    finally:
        store.close()
    print(f"token {args.id[:8]} revoked: the collector refuses it from its next request on")
    return 0


def pairing_base_url(settings: CollectorSettings, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    if settings.api.public_url:
        return settings.api.public_url
    host = settings.http.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.http.port}"


def _pair(args: argparse.Namespace) -> int:
    import urllib.parse

    from shopfloor.cli import CliError

    _check_id(args.site, "site")
    _check_id(args.station, "station")
    if not 0 < args.valid_minutes <= 24 * 60:
        raise CliError("--valid-minutes must be more than 0 and at most 1440 (a day)")
    settings, store = _store(args.config)
    try:
        code, expires_ms = store.create_pairing(args.site, args.station, args.valid_minutes * 60)
    finally:
        store.close()
    base = pairing_base_url(settings, args.url)
    quoted = f"{urllib.parse.quote(args.site)}/{urllib.parse.quote(args.station)}"
    # The code travels in the fragment: browsers never send it to a server, a proxy log or a Referer.
    link = f"{base}/bench/{quoted}#pair={code}"
    if not args.no_qr:
        import segno

        segno.make(link, error="m").terminal(out=sys.stdout, compact=True)
    print(link)
    print(
        f"Open it on the tablet of {args.site}/{args.station} (or scan the code) before {_when(expires_ms)} UTC; "
        f"it works once. Pairing code: {code}",
        file=sys.stderr,
    )
    if not args.url and not settings.api.public_url and settings.http.host in ("0.0.0.0", "::", "127.0.0.1"):
        print(
            "note: the link uses the address in http.host; set api.public_url (or --url) to the address tablets use",
            file=sys.stderr,
        )
    return 0
