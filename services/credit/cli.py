"""`credit`: run and administer the fire-safety credit service.

Examples a clerk or operator can follow:

  credit serve                                  start the API (embedded database in development)
  credit migrate                                bring the database to the current schema
  credit clients create --id land-bureau --department yanbian-land --scopes units:read records:read
  credit clients revoke --id land-bureau        refuse the client's tokens from now on
  credit demo --units 5000 --records 20000      fill an empty database with realistic demo data
  credit audit verify                           check the audit trail's hash chain end to end
  credit audit export --case 延自然资地〔2026〕17号 --out case.csv
                                                what was asked and answered for one case (or --uscc)
  credit keys rotate                            start signing with a new key; old tokens stay valid
  credit jobs nightly                           re-grade units whose day came, expire listings (cron, nightly)
  credit jobs policy --file new.toml            how many units would change grade; add --apply to do it
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.credit.settings import CreditSettings

T = TypeVar("T")


def _database_url(settings: CreditSettings) -> str:
    from services.credit.app import resolve_database_url

    return resolve_database_url(settings)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.kit import migrate

    settings = CreditSettings()
    url = _database_url(settings)
    migrate.upgrade("credit", url)
    os.environ["CREDIT_DATABASE_URL"] = url
    print(f"credit API on http://{args.host}:{args.port}  (docs: http://{args.host}:{args.port}/docs)", flush=True)
    uvicorn.run(
        "services.credit.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from services.kit import migrate

    url = _database_url(CreditSettings())
    if args.direction == "upgrade":
        migrate.upgrade("credit", url, args.revision or "head")
    else:
        migrate.downgrade("credit", url, args.revision or "-1")
    print(f"credit database now at {migrate.current_revision('credit', url, 'credit')}")
    return 0


async def _with_session(coro_factory: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from services.kit.db import make_engine, make_sessionmaker

    engine = make_engine(_database_url(CreditSettings()), pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await coro_factory(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _clients(args: argparse.Namespace) -> int:
    from services.credit.clients import service

    if args.action == "create":
        try:
            service.validate_scopes(args.scopes)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        secret = asyncio.run(
            _with_session(
                lambda s: service.create_client(
                    s,
                    client_id=args.id,
                    name=args.name or args.id,
                    department=args.department,
                    scopes=args.scopes,
                    secret=args.secret,
                )
            )
        )
        print(f"client_id={args.id}\nclient_secret={secret}\n(the secret is shown once; store it now)")
        return 0
    if args.action == "revoke":
        done = asyncio.run(_with_session(lambda s: service.revoke_client(s, args.id)))
        print("revoked" if done else "no active client with that id")
        return 0 if done else 1
    return 2


def _demo(args: argparse.Namespace) -> int:
    from services.credit.demo import load_demo

    settings = CreditSettings()
    counts = asyncio.run(
        load_demo(settings, _database_url(settings), units=args.units, records=args.records, seed=args.seed)
    )
    print(f"demo data: {counts['units']} units, {counts['records']} records")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from services.credit.audit import service as audit
    from services.credit.audit.service import AuditKeys

    settings = CreditSettings()
    keys = AuditKeys(algorithm=settings.audit_algorithm, key=settings.audit_key.encode())

    async def run(session: AsyncSession) -> int:
        if args.action == "seal":
            print(f"sealed {await audit.seal(session, keys)} entries")
            return 0
        if args.action == "verify":
            await audit.seal(session, keys)
            report = await audit.verify(session, keys)
            for problem in report.problems:
                print(f"TAMPERED: {problem}")
            print(
                f"checked {report.checked} sealed entries, {report.unsealed} not yet sealed: "
                + ("intact" if report.intact else f"{len(report.problems)} problem(s)")
            )
            return 0 if report.intact else 3
        if not args.case and not args.uscc:
            print("error: give --case or --uscc", file=sys.stderr)
            return 2
        exported.append(await audit.export_csv(session, case_id=args.case, uscc=args.uscc))
        return 0

    exported: list[str] = []
    code = asyncio.run(_with_session(run))
    if exported:
        text = exported[0]
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            print(f"wrote {text.count(chr(10)) - 1} entries to {args.out}")
        else:
            sys.stdout.write(text)
    return code


def _keys(args: argparse.Namespace) -> int:
    from joserfc.jwk import KeySet

    from services.kit.auth import ensure_dev_keyset, generate_key, load_keyset, write_keyset

    settings = CreditSettings()
    path = settings.keys_file
    current = load_keyset(path) if path.exists() else ensure_dev_keyset(path)
    fresh = generate_key()
    kept = list(current.keys)[: max(0, args.keep)]
    write_keyset(path, KeySet([fresh, *kept]))
    print(f"now signing with {fresh.kid}; still verifying {', '.join(str(k.kid) for k in kept) or 'nothing else'}")
    print("running servers pick the new key up within 15 seconds")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="upgrade or downgrade the database schema")
    mig.add_argument("direction", nargs="?", choices=["upgrade", "downgrade"], default="upgrade")
    mig.add_argument("revision", nargs="?", help="target revision (default: head for upgrade, one step for downgrade)")
    mig.set_defaults(func=_migrate)

    clients = sub.add_parser("clients", help="register or revoke API clients")
    clients_sub = clients.add_subparsers(dest="action", required=True)
    create = clients_sub.add_parser("create", help="register a client and print its secret once")
    create.add_argument("--id", required=True, help="client id, e.g. land-bureau")
    create.add_argument("--name", help="readable name, e.g. 延吉市自然资源局")
    create.add_argument("--department", required=True, help="department the client acts for, e.g. yanji-fire")
    create.add_argument("--scopes", nargs="+", required=True, help="scopes, e.g. units:read records:read")
    create.add_argument("--secret", help="use this secret instead of a generated one (development only)")
    revoke = clients_sub.add_parser("revoke", help="revoke a client: its tokens are refused within a minute")
    revoke.add_argument("--id", required=True)
    clients.set_defaults(func=_clients)

    demo = sub.add_parser("demo", help="load realistic demo data into an empty database")
    demo.add_argument("--units", type=int, default=5000, help="number of units (default 5000)")
    demo.add_argument("--records", type=int, default=20000, help="number of credit records (default 20000)")
    demo.add_argument("--seed", type=int, default=26, help="random seed (same seed, same data)")
    demo.set_defaults(func=_demo)
    audit = sub.add_parser("audit", help="seal, verify or export the audit trail")
    audit.add_argument("action", choices=["seal", "verify", "export"])
    audit.add_argument("--case", help="export: the case reference (X-Case-Id) to export")
    audit.add_argument("--uscc", help="export: the unit whose audit entries to export")
    audit.add_argument("--out", help="export: file to write (CSV, UTF-8 with BOM); default standard output")
    audit.set_defaults(func=_audit)

    sub.add_parser(
        "jobs", help="nightly re-grading and list expiry, queue drain, policy dry run (`credit jobs --help`)"
    )

    keys = sub.add_parser("keys", help="rotate the token signing key")
    keys.add_argument("action", choices=["rotate"])
    keys.add_argument(
        "--keep",
        type=int,
        default=1,
        help="how many previous keys keep verifying (default 1: tokens signed before stay valid)",
    )
    keys.set_defaults(func=_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["jobs"]:
        # the jobs have their own parser (and --help); hand them everything after `jobs`
        from services.credit.checks.jobs import main as jobs_main

        return jobs_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
