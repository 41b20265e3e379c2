"""`sharing` command line: nightly ingest of the market-regulation registration feed and its tools.

Run `python -m services.sharing.cli --help` (or `sharing --help` once installed).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
from typing import Any

import orjson
import psycopg

from services.kit.db import sync_url
from services.kit.logs import configure_logging
from services.kit.pii import PiiProtector
from services.sharing.credit_api.client import CreditClient
from services.sharing.feeds.mapping import MappingError, load_mapping
from services.sharing.feeds.readers import FeedError, Manifest, read_manifest
from services.sharing.ingest.service import (
    EXIT_FAILED,
    EXIT_USAGE,
    FeedSpec,
    IngestJob,
    IngestOptions,
    IngestStop,
    Progress,
    mirror_checksum,
)
from services.sharing.policy import load_policy
from services.sharing.settings import SharingSettings, resolve_database_url

EXIT_CODES = """exit codes (for cron):
  0   done (or nothing to do: the delta was already applied)
  1   failed unexpectedly (see the log line)
  2   usage error, or an unfinished run of another feed is in the way (re-run it, or --abandon)
  3   another ingest is running: this one exited at once without touching anything
  4   refused by the safety guard (mass deregistration, too many changes, truncated or stale feed);
      nothing was applied; re-run with --force after checking
  5   the feed could not be read or holds no valid record (empty, headers only, undeclared encoding);
      nothing was applied
  6   delta gap: the delta does not follow the last applied sequence; ingest a full snapshot
  75  applied, but credit could not be reached: the changes stay pending and are sent by the next
      run (or `sharing forward`)
"""

INGEST_HELP = """Ingest one registration feed (a file or an HTTP source) and forward the changes to credit.

Examples (what the night job runs, and what a clerk types after a failure):
  sharing ingest /data/samr/full-2026-11-27.csv.gz --kind full --sequence 120
  sharing ingest /data/samr/delta-2026-11-28.csv              # kind and sequence from its .manifest.json
  sharing ingest --url http://feeds.example/v1/feeds/registration --kind delta
  sharing ingest FILE --force                                  # after reading a guard refusal
A run that was killed is completed by running the same command again.
"""


def _settings() -> SharingSettings:
    return SharingSettings()


def _job(settings: SharingSettings, url: str, *, forward: bool = True, quiet: bool = False) -> IngestJob:
    credit = None
    if forward:
        credit = CreditClient(settings.credit_url, settings.credit_client_id, settings.credit_client_secret,
                              timeout=settings.credit_timeout_seconds)
    return IngestJob(database_url=url, policy=load_policy(settings.policy_file),
                     pii=PiiProtector.from_secret(settings.pii_key), credit=credit,
                     progress=Progress(enabled=not quiet, tty=sys.stderr.isatty()))


def _print(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


def _summary(run: dict[str, Any]) -> str:
    t = run.get("timings") or {}
    rejects = ", ".join(f"{k} {v}" for k, v in sorted((run.get("rejects") or {}).items())) or "none"
    return (
        f"run {run['id']} {run['status']}: {run['rows_read']} rows read, {run['staged']} valid, "
        f"{run['quarantined']} quarantined ({rejects}); {run['new']} new, {run['changed']} changed, "
        f"{run['status_changed']} status changes, {run['unchanged']} unchanged, {run['absent']} absent; "
        f"{run['forwarded']} forwarded to credit, {run['forward_rejected']} rejected by credit, "
        f"{run['forward_pending']} pending; {run['survey_listed']} units to survey; "
        f"{t.get('total_s')} s, {t.get('rows_per_s')} rows/s"
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings()
    url = resolve_database_url(settings)
    try:
        mapping = load_mapping(args.mapping)
    except MappingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if (args.file is None) == (args.url is None):
        print("error: give a FILE or --url (one of them)", file=sys.stderr)
        return EXIT_USAGE
    path = pathlib.Path(args.file) if args.file else None
    try:
        manifest = (read_manifest(path) if path else None) or Manifest()
    except FeedError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE
    if args.kind:
        manifest.kind = args.kind
    if args.sequence is not None:
        manifest.sequence = args.sequence
    if args.base is not None:
        manifest.base_sequence = args.base
    if args.record_count is not None:
        manifest.record_count = args.record_count
    job = _job(settings, url, forward=not args.no_forward, quiet=args.quiet)
    if args.url and manifest.kind == "delta" and manifest.base_sequence is None:
        with psycopg.connect(_plain(url)) as conn:
            row = conn.execute("SELECT last_sequence FROM sharing.feed_sources WHERE name = %s",
                               (args.source,)).fetchone()
        manifest.base_sequence = row[0] if row else None
    spec = FeedSpec(source=args.source, mapping=mapping, path=path, url=args.url, manifest=manifest,
                    fmt=args.format, encoding=args.encoding)
    try:
        run = job.run(spec, IngestOptions(force=args.force, abandon=args.abandon, forward=not args.no_forward,
                                          stage_batch=args.batch_size, apply_chunk=max(args.batch_size, 1000),
                                          stage_workers=args.workers))
    except IngestStop as stop:
        logging.getLogger("sharing.ingest").warning(stop.message, extra={"run_id": stop.run_id,
                                                                          "status": stop.status})
        print(f"{stop.status}: {stop.message}", file=sys.stderr)
        if stop.run_id is not None and args.json:
            with psycopg.connect(_plain(url)) as conn:
                from services.sharing.ingest.repository import get_run

                _print(get_run(conn, stop.run_id))
        return stop.code
    print(_summary(run), file=sys.stderr)
    if args.json:
        _print(run)
    return 0


def _plain(url: str) -> str:
    return sync_url(url).replace("postgresql+psycopg://", "postgresql://")


def cmd_forward(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        run = _job(settings, resolve_database_url(settings), quiet=args.quiet).forward_only()
    except IngestStop as stop:
        print(f"{stop.status}: {stop.message}", file=sys.stderr)
        return stop.code
    print(_summary(run), file=sys.stderr)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    settings = _settings()
    with psycopg.connect(_plain(resolve_database_url(settings))) as conn:
        from psycopg.rows import dict_row

        with conn.cursor(row_factory=dict_row) as cur:
            if args.id:
                row = cur.execute("SELECT * FROM sharing.sync_runs WHERE id = %s", (args.id,)).fetchone()
                if row is None:
                    print(f"no run {args.id}", file=sys.stderr)
                    return EXIT_USAGE
                _print(row)
                return 0
            rows = cur.execute("SELECT * FROM sharing.sync_runs ORDER BY id DESC LIMIT %s", (args.limit,)).fetchall()
    for row in rows:
        print(_summary(row) + (f" — {row['message']}" if row["message"] else ""))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from services.sharing.quarantine import repository as qrepo
    from services.sharing.quarantine.service import QuarantineError, fix_row, replay

    settings = _settings()
    url = resolve_database_url(settings)
    with psycopg.connect(_plain(url)) as conn:
        if args.action == "list":
            rows = qrepo.list_rows(conn, run_id=args.run, reason=args.reason,
                                   status=None if args.status == "all" else args.status, limit=args.limit)
            for r in rows:
                print(f"#{r['id']} run {r['run_id']} line {r['line']} [{r['status']}] {r['reason']}: {r['detail']}")
            return 0
        if args.action == "fix":
            changes = {}
            for assignment in args.set or []:
                key, sep, value = assignment.partition("=")
                if not sep:
                    print(f"error: --set wants field=value, got `{assignment}`", file=sys.stderr)
                    return EXIT_USAGE
                changes[key] = value
            try:
                fixed = fix_row(conn, args.id, changes)
            except QuarantineError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(f"#{fixed['id']} fixed: {fixed['fix']}; run `sharing quarantine replay` to apply it")
            return 0
        if args.action == "dismiss":
            with conn.transaction():
                qrepo.dismiss(conn, args.id)
            return 0
    try:
        run = replay(_job(settings, url, quiet=args.quiet), url, load_mapping(args.mapping), run_id=args.run)
    except IngestStop as stop:
        print(f"{stop.status}: {stop.message}", file=sys.stderr)
        return stop.code
    print(_summary(run), file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from services.sharing.simulator.generate import DirtyPlan, Registry, write_feed

    registry = Registry(seed=args.seed, size=args.size, change_rate=args.change_rate)
    dirty = DirtyPlan(tuple(c for c in (args.dirty or "").split(",") if c), every=args.dirty_every)
    out = pathlib.Path(args.out)
    if args.kind == "full":
        units = registry.full(args.sequence)
        base = None
    else:
        units = registry.delta(args.sequence)
        base = args.sequence - 1
    n = write_feed(out, units, fmt=args.format, encoding=args.encoding, gzipped=args.gzip, dirty=dirty,
                   kind=args.kind, sequence=args.sequence, base_sequence=base)
    print(f"wrote {n} records to {out} (+ {out.name}.manifest.json)", file=sys.stderr)
    return 0


def cmd_serve_simulator(args: argparse.Namespace) -> int:
    import uvicorn

    from services.sharing.simulator.server import create_simulator_app

    app = create_simulator_app(seed=args.seed, size=args.size, latest=args.latest, keep_deltas=args.keep_deltas)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.sharing.app import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.kit.migrate import upgrade

    settings = _settings()
    upgrade("sharing", resolve_database_url(settings))
    print("sharing schema at head", file=sys.stderr)
    return 0


def cmd_checksum(args: argparse.Namespace) -> int:
    settings = _settings()
    print(mirror_checksum(resolve_database_url(settings)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharing",
        description="Data exchange of the fire-safety credit services: the market-regulation registration "
                    "feed (Art. 15(26)). Settings come from SHARING_* environment variables "
                    "(SHARING_DATABASE_URL, SHARING_CREDIT_URL, SHARING_CREDIT_CLIENT_ID, "
                    "SHARING_CREDIT_CLIENT_SECRET, SHARING_PII_KEY).",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="ingest a registration feed and forward changes to credit",
                       description=INGEST_HELP, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", help="feed file: .csv, .jsonl, optionally .gz")
    p.add_argument("--url", help="HTTP source paging by cursor (feed contract v1) instead of a file")
    p.add_argument("--source", default="samr", help="feed source name; watermarks are kept per source (samr)")
    p.add_argument("--mapping", default="samr",
                   help="column mapping: samr (market-regulation layout), contract, or a .toml path")
    p.add_argument("--kind", choices=["full", "delta"], help="full snapshot or delta (default: manifest, or full)")
    p.add_argument("--sequence", type=int, help="the feed's sequence number (default: manifest)")
    p.add_argument("--base", type=int, help="a delta's base sequence (default: manifest)")
    p.add_argument("--record-count", type=int, help="records the producer says the file holds (checked)")
    p.add_argument("--encoding", help="auto (default), utf-8, utf-8-sig, gb18030 or gbk")
    p.add_argument("--format", default="auto", choices=["auto", "csv", "jsonl"])
    p.add_argument("--force", action="store_true", help="apply even though the safety guard refuses")
    p.add_argument("--abandon", action="store_true", help="drop an unfinished run of another feed first")
    p.add_argument("--no-forward", action="store_true", help="update the mirror only; forward later")
    p.add_argument("--json", action="store_true", help="print the run report as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--batch-size", type=int, default=20_000, help="rows per committed batch (20000)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes validating rows (default: one per core; 1: validate in this process)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("forward", help="send changes credit has not acknowledged yet (after an outage)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_forward)

    p = sub.add_parser("runs", help="list recent runs, or show one as JSON")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("quarantine", help="list, fix, dismiss and replay quarantined rows")
    p.add_argument("action", choices=["list", "fix", "dismiss", "replay"])
    p.add_argument("id", nargs="?", type=int, help="quarantined row id (fix, dismiss)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="fix: a contract field's new value, e.g. --set established_on=2019-02-28")
    p.add_argument("--run", type=int, help="only rows of this run")
    p.add_argument("--reason", help="list: only this reason, e.g. uscc_checksum")
    p.add_argument("--status", default="open", help="list: open (default), fixed, replayed, dismissed, all")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--mapping", default="samr", help="replay: the mapping whose code rules apply (samr)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("simulate", help="write a simulated Yanbian registration feed (full or delta)")
    p.add_argument("kind", choices=["full", "delta"])
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=10_000, help="units in the baseline registry")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sequence", type=int, default=0, help="full: state after this many deltas; delta: its number")
    p.add_argument("--change-rate", type=float, default=0.02, help="share of units a delta changes")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--encoding", choices=["utf-8", "utf-8-sig", "gb18030", "gbk"], default="utf-8")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--dirty", help="comma-separated dirty classes to inject: bad_checksum,encoding,bom_header,"
                                   "duplicate,missing_name,truncated,bad_date,bad_citizen_id,unknown_status")
    p.add_argument("--dirty-every", type=int, default=1000, help="one dirty row per this many rows")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("serve-simulator", help="serve the simulated feed over HTTP (cursor pages)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--latest", type=int, default=3, help="latest sequence published")
    p.add_argument("--keep-deltas", type=int, default=30, help="deltas kept; older ones answer 410")
    p.set_defaults(func=cmd_serve_simulator)

    p = sub.add_parser("serve", help="run the sharing API (sync runs, units to survey, quarantine)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="bring the sharing schema to the latest migration").set_defaults(func=cmd_migrate)
    sub.add_parser("checksum", help="checksum of the mirror (content and forwarding state)").set_defaults(
        func=cmd_checksum)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging("INFO")
    try:
        return int(args.func(args))
    except (FeedError, MappingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        logging.getLogger("sharing").exception("failed")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
