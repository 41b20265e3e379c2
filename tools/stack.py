"""Start the whole stack on one machine: an embedded PostgreSQL, the credit service with demo data,
and the sharing service when present. Ctrl-C stops everything.

  ./dev up                      default ports 8000 (credit) and 8001 (sharing)
  ./dev up --credit-port 9000   other ports
  ./dev up --fresh              throw away the local database and start again
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import httpx

from services.kit.pgserver import embedded_server_url, ensure_database

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / ".dev"
DEMO_CLIENTS = [
    # (client id, department, scopes): development secrets are "<client id>-secret"
    (
        "demo-admin",
        "yanbian-fire",
        "admin units:read units:list units:write units:override records:read records:write pii:read checks:read "
        "checks:write listing:read listing:write",
    ),
    ("yanji-fire", "yanji-fire", "units:read units:list records:read records:write listing:read listing:write"),
    ("land-bureau", "yanbian-land", "units:read checks:read checks:write"),
    ("sharing-sync", "yanbian-market", "units:read units:write records:read"),
]


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not become ready")


def _run_services(
    args: argparse.Namespace,
    env: dict[str, str],
    server: str,
    credit: list[str],
    bin_dir: pathlib.Path,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    procs.append(subprocess.Popen([*credit, "serve", "--port", str(args.credit_port)], env=env))
    credit_base = f"http://127.0.0.1:{args.credit_port}"
    _wait(f"{credit_base}/readyz")
    sharing_cli = bin_dir / "sharing"
    if sharing_cli.exists():
        sharing_url = ensure_database(server, "sharing")
        sharing_env = {
            **env,
            "SHARING_DATABASE_URL": sharing_url,
            "SHARING_CREDIT_URL": credit_base,
            "SHARING_CREDIT_CLIENT_ID": "sharing-sync",
            "SHARING_CREDIT_CLIENT_SECRET": "sharing-sync-secret",
            "SHARING_DATA_DIR": str(DATA),
        }
        subprocess.run([str(sharing_cli), "migrate"], env=sharing_env, check=True)
        procs.append(subprocess.Popen([str(sharing_cli), "serve", "--port", str(args.sharing_port)], env=sharing_env))
        _wait(f"http://127.0.0.1:{args.sharing_port}/readyz")
        print(f"sharing API  {'http://127.0.0.1:' + str(args.sharing_port)}/docs")
    print(
        f"""
credit API   {credit_base}/docs      (OpenAPI: {credit_base}/openapi.json)
database     {env["CREDIT_DATABASE_URL"]}
demo clients (secret = "<client id>-secret"): {", ".join(c[0] for c in DEMO_CLIENTS)}
try:
  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=demo-admin -d client_secret=demo-admin-secret \\
          {credit_base}/v1/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" '{credit_base}/v1/units?name_contains=%E9%85%92%E5%BA%97&limit=3'
Ctrl-C stops the stack.""",
        flush=True,
    )


def _stop_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credit-port", type=int, default=8000)
    parser.add_argument("--sharing-port", type=int, default=8001)
    parser.add_argument("--units", type=int, default=5000, help="demo units (default 5000)")
    parser.add_argument("--records", type=int, default=20000, help="demo records (default 20000)")
    parser.add_argument("--fresh", action="store_true", help="delete the local database first")
    args = parser.parse_args()
    # a service manager's stop (SIGTERM) ends the stack as Ctrl-C does, at any stage: services
    # first, then the embedded PostgreSQL, nothing left running
    signal.signal(signal.SIGTERM, _stop_as_interrupt)
    if args.fresh and DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(exist_ok=True)
    print("starting embedded PostgreSQL ...", flush=True)
    server = embedded_server_url(DATA / "pg")
    credit_url = ensure_database(server, "credit")
    env = {**os.environ, "CREDIT_DATABASE_URL": credit_url, "CREDIT_DATA_DIR": str(DATA)}
    bin_dir = pathlib.Path(sys.executable).parent
    credit = [str(bin_dir / "credit")]
    subprocess.run([*credit, "migrate"], env=env, check=True)
    subprocess.run([*credit, "demo", "--units", str(args.units), "--records", str(args.records)], env=env, check=True)
    subprocess.run([*credit, "jobs", "drain"], env=env, check=True)  # grade the demo units
    for client_id, department, scopes in DEMO_CLIENTS:
        subprocess.run(
            [
                *credit,
                "clients",
                "create",
                "--id",
                client_id,
                "--department",
                department,
                "--scopes",
                *scopes.split(),
                "--secret",
                f"{client_id}-secret",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _run_services(args, env, server, credit, bin_dir, procs)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # whatever happened, nothing is left running
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
