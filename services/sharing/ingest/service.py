"""The nightly registration ingest: stage -> plan (guard) -> apply -> forward, each phase resumable.

* **stage**: the feed is streamed, each row validated and normalised, and loaded with COPY into a
  per-run stage table in batches; bad rows go to the quarantine. The batch, its quarantined rows and
  the watermark (rows read) commit in one transaction, so a killed run resumes at the batch boundary.
* **plan**: duplicates are settled (the last line wins), the manifest's record count is checked,
  the diff against the mirror is counted and the safety guard decides. Nothing is applied yet.
* **apply**: the stage is merged into the mirror in USCC order, chunk by chunk; each chunk commits
  with its diff rows, its survey-list entries and the watermark (last USCC applied).
* **forward**: mirror rows whose content credit has not acknowledged are sent through credit's bulk
  upsert; each acknowledged batch is marked in the same transaction. credit being down delays (retries
  with backoff), never loses: what is not acknowledged stays pending for the next run.

Re-running the same feed changes nothing: unchanged rows have equal content hashes and are not
touched, and credit answers `unchanged` for anything sent twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pathlib
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, NoReturn

import psycopg

from services.kit.db import sync_url
from services.kit.pii import PiiProtector
from services.sharing.credit_api.client import CreditClient, CreditRefused, CreditUnavailable
from services.sharing.feeds.mapping import Mapping
from services.sharing.feeds.normalise import CHINA_TZ
from services.sharing.feeds.readers import (
    FeedError,
    HttpFeed,
    HttpPage,
    Manifest,
    SourceRow,
    file_fingerprint,
    open_file_feed,
)
from services.sharing.ingest import repository as repo
from services.sharing.ingest.forward import Forwarder
from services.sharing.ingest.validate import Rejected, RowValidator, ValidatorPool, values_of
from services.sharing.policy import SharingPolicy

_log = logging.getLogger("sharing.ingest")

# exit codes (documented in docs/sharing.md and `sharing ingest --help`)
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_REFUSED = 4
EXIT_NOTHING_VALID = 5
EXIT_DELTA_GAP = 6
EXIT_FORWARD_PENDING = 75

STAGE_BATCH = 20_000
APPLY_CHUNK = 50_000


class IngestStop(Exception):
    def __init__(self, code: int, status: str, message: str, run_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.run_id = run_id


@dataclass
class FeedSpec:
    """What to ingest: a file (with optional manifest) or an HTTP source."""

    source: str
    mapping: Mapping
    path: pathlib.Path | None = None
    url: str | None = None
    manifest: Manifest = field(default_factory=Manifest)
    fmt: str = "auto"
    encoding: str | None = None
    rows: Callable[[], Iterator[SourceRow]] | None = None  # replays of fixed quarantined rows
    label: str | None = None
    http_feed: HttpFeed | None = None
    http_first: HttpPage | None = None
    http_params: dict[str, str | int] = field(default_factory=dict)

    def open_http(self) -> None:
        """Ask the source for the delta after our base; a gap is answered with a full snapshot."""
        assert self.url is not None
        feed = HttpFeed(self.url)
        kind = self.manifest.kind
        params: dict[str, str | int] = {"kind": kind, "limit": feed.page_size}
        if kind == "delta":
            if self.manifest.base_sequence is None:
                kind = "full"
                params = {"kind": "full", "limit": feed.page_size}
            else:
                params["since_sequence"] = self.manifest.base_sequence
        try:
            first = feed._get(params)
        except FeedError as exc:
            if exc.code != "delta_gap":
                raise
            _log.warning("delta gap at the source: taking a full snapshot", extra={"url": self.url})
            params = {"kind": "full", "limit": feed.page_size}
            first = feed._get(params)
        self.manifest = first.manifest
        self.http_feed, self.http_first, self.http_params = feed, first, params


@dataclass
class Progress:
    """Progress on a TTY (a redrawn line), JSON log lines otherwise; called from the job loop."""

    enabled: bool = True
    tty: bool = False
    total: int | None = None
    _last: float = 0.0
    _started: float = field(default_factory=time.perf_counter)

    def update(self, phase: str, done: int, *, force: bool = False, **extra: Any) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < (0.25 if self.tty else 5.0):
            return
        self._last = now
        elapsed = max(now - self._started, 1e-6)
        rate = done / elapsed
        if self.tty:
            import sys

            if self.total and phase == "staging":
                share = min(done / self.total, 1.0)
                bar = "#" * int(share * 30)
                line = f"\r{phase:<10} [{bar:<30}] {done:>10,}/{self.total:,} rows {rate:>9,.0f} rows/s"
            else:
                line = f"\r{phase:<10} {done:>10,} rows {rate:>9,.0f} rows/s"
            sys.stderr.write(line + "".join(f" {k}={v}" for k, v in extra.items()) + "\033[K")
            sys.stderr.flush()
        else:
            _log.info("progress", extra={"phase": phase, "done": done, "rows_per_s": round(rate), **extra})

    def newline(self) -> None:
        if self.enabled and self.tty:
            import sys

            sys.stderr.write("\n")


@dataclass
class IngestOptions:
    force: bool = False
    abandon: bool = False
    forward: bool = True
    stop_after: str | None = None  # tests: "staging" | "apply" stop (as if killed) after that phase
    stage_batch: int = STAGE_BATCH
    apply_chunk: int = APPLY_CHUNK
    stage_workers: int | None = None  # validation processes; None: one per core; 1: in this process
    pool_after_rows: int = STAGE_BATCH  # small feeds are validated in-process (no pool start-up)
    stage_part: int = 2_500  # rows per task sent to a worker


@dataclass
class _StageBatch:
    """One committed unit of the stage phase: rows read up to `consumed`, validated in parts."""

    consumed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    quarantine: list[tuple[Any, ...]] = field(default_factory=list)
    parts: list[Future[tuple[bytes, int, list[Rejected]]] | tuple[bytes, int, list[Rejected]]] = field(
        default_factory=list)

    def done(self) -> bool:
        return all(p.done() for p in self.parts if isinstance(p, Future))


class IngestJob:
    def __init__(self, *, database_url: str, policy: SharingPolicy, pii: PiiProtector,
                 credit: CreditClient | None, progress: Progress | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = sync_url(database_url).replace("postgresql+psycopg://", "postgresql://")
        self.policy = policy
        self.pii = pii
        self.credit = credit
        self.progress = progress or Progress(enabled=False)
        self.sleep = sleep

    # ------------------------------------------------------------------ entry points

    def run(self, spec: FeedSpec, options: IngestOptions | None = None) -> dict[str, Any]:
        options = options or IngestOptions()
        with repo.connect(self.url, "sharing-ingest-lock") as lock_conn:
            if not repo.try_lock(lock_conn):
                running = repo.running_runs(lock_conn)
                who = ", ".join(f"run {r['id']} ({r['source']}, {r['phase']}, pid {r['pid']} on {r['host']})"
                                for r in running) or "another ingest"
                raise IngestStop(EXIT_LOCKED, "locked", f"another ingest is running: {who}; this one exits")
            with repo.connect(self.url, "sharing-ingest") as conn:
                return self._run_locked(conn, spec, options)

    def forward_only(self) -> dict[str, Any]:
        """Send whatever credit has not acknowledged (after an outage), as its own run."""
        with repo.connect(self.url, "sharing-ingest-lock") as lock_conn:
            if not repo.try_lock(lock_conn):
                raise IngestStop(EXIT_LOCKED, "locked", "another ingest is running; this one exits")
            with repo.connect(self.url, "sharing-forward") as conn:
                with conn.transaction():
                    run_id = repo.create_run(conn, source="(pending)", kind="forward", transport="none",
                                             location="", fingerprint="", mapping="", phase="forwarding",
                                             host=socket.gethostname(), pid=os.getpid())
                return self._forward_and_finish(conn, run_id, time.perf_counter(), IngestOptions())

    # ------------------------------------------------------------------ run

    def _run_locked(self, conn: psycopg.Connection[Any], spec: FeedSpec, options: IngestOptions) -> dict[str, Any]:
        started = time.perf_counter()
        if spec.url is not None and spec.http_feed is None:
            try:
                spec.open_http()
            except FeedError as exc:
                raise IngestStop(EXIT_NOTHING_VALID, "failed", f"{exc.code}: {exc.detail}") from exc
        fingerprint, location, transport = self._identify(spec)
        unfinished = repo.unfinished_run(conn, spec.source)
        if unfinished is not None and (unfinished["fingerprint"] != fingerprint or options.abandon):
            if not options.abandon:
                raise IngestStop(
                    EXIT_USAGE, "unfinished",
                    f"run {unfinished['id']} of source `{spec.source}` ({unfinished['location']}) did not finish "
                    f"(phase {unfinished['phase']}); re-run that feed to complete it, or pass --abandon to drop it",
                    unfinished["id"],
                )
            with conn.transaction():
                repo.drop_stage(conn, unfinished["id"])
                repo.update_run(conn, unfinished["id"], status="abandoned", finished_at=dt.datetime.now(dt.UTC),
                                message="abandoned by the operator (--abandon)")
            unfinished = None
        if unfinished is None:
            run_id = self._start_run(conn, spec, options, fingerprint, location, transport)
        else:
            run_id = int(unfinished["id"])
            _log.info("resuming run", extra={"run_id": run_id, "phase": unfinished["phase"]})
        run = repo.get_run(conn, run_id)
        if run["phase"] == "staging":
            self._stage(conn, run, spec, options)
            if options.stop_after == "staging":
                return repo.get_run(conn, run_id)
            run = repo.get_run(conn, run_id)
        if run["phase"] == "planning":
            self._plan(conn, run, spec, options)
            run = repo.get_run(conn, run_id)
        forwarder: Forwarder | None = None
        if run["phase"] == "applying":
            if options.forward and self.credit is not None:
                # pipelining: chunks the merge has committed are forwarded while it goes on
                forwarder = self._forwarder(run_id, str(run["apply_after"]))
                forwarder.start()
            try:
                self._apply(conn, run, spec, options, forwarder)
            except BaseException:
                if forwarder is not None:
                    forwarder.abort()
                    with contextlib.suppress(Exception):
                        forwarder.join()
                raise
            if options.stop_after == "apply":
                if forwarder is not None:
                    forwarder.abort()
                    with contextlib.suppress(Exception):
                        forwarder.join()
                return repo.get_run(conn, run_id)
        return self._forward_and_finish(conn, run_id, started, options, forwarder)

    def _identify(self, spec: FeedSpec) -> tuple[str, str, str]:
        if spec.rows is not None:
            label = spec.label or "replay"
            return f"{label}@{time.time_ns()}", label, "replay"
        if spec.path is not None:
            if not spec.path.exists():
                raise IngestStop(EXIT_USAGE, "failed", f"{spec.path}: no such file")
            return file_fingerprint(spec.path), str(spec.path), "file"
        assert spec.url is not None
        m = spec.manifest
        return f"{spec.url}#{m.kind}:{m.sequence}", spec.url, "http"

    def _start_run(self, conn: psycopg.Connection[Any], spec: FeedSpec, options: IngestOptions, fingerprint: str,
                   location: str, transport: str) -> int:
        m = spec.manifest
        state = repo.source_state(conn, spec.source)
        last = state["last_sequence"] if state else None
        common = {"source": spec.source, "kind": m.kind, "transport": transport, "location": location,
                  "fingerprint": fingerprint, "sequence": m.sequence, "base_sequence": m.base_sequence,
                  "declared_count": m.record_count, "mapping": spec.mapping.name, "forced": options.force,
                  "host": socket.gethostname(), "pid": os.getpid()}
        refusal: tuple[int, str, str] | None = None
        if m.kind == "delta":
            if state is None or last is None:
                refusal = (EXIT_DELTA_GAP, "delta_gap",
                           "this delta has no base: no full snapshot of this source was applied yet; "
                           "ingest a full snapshot first")
            elif m.sequence is not None and m.sequence <= last:
                refusal = (EXIT_OK, "skipped", f"delta {m.sequence} is already applied (last sequence {last})")
            elif m.base_sequence is not None and m.base_sequence != last:
                refusal = (EXIT_DELTA_GAP, "delta_gap",
                           f"delta {m.sequence} is based on sequence {m.base_sequence} but the last applied is "
                           f"{last}: deltas are missing in between; ingest a full snapshot")
        elif m.sequence is not None and last is not None and m.sequence < last and not options.force:
            refusal = (EXIT_REFUSED, "refused",
                       f"full snapshot {m.sequence} is older than the last applied sequence {last} (use --force)")
        if refusal is not None:
            code, status, message = refusal
            with conn.transaction():
                run_id = repo.create_run(conn, **common, status=status, phase="done", message=message,
                                         finished_at=dt.datetime.now(dt.UTC))
            raise IngestStop(code, status, message, run_id)
        with conn.transaction():
            run_id = repo.create_run(conn, **common, phase="staging")
            repo.create_stage(conn, run_id)
        return run_id

    # ------------------------------------------------------------------ stage

    def _open_rows(self, spec: FeedSpec) -> tuple[Iterator[SourceRow], str, Callable[[], None]]:
        if spec.rows is not None:
            return spec.rows(), "utf-8", lambda: None
        if spec.path is not None:
            opened = open_file_feed(spec.path, spec.mapping, fmt=spec.fmt, encoding=spec.encoding)
            return opened.rows, opened.encoding, opened.close
        if spec.http_feed is None:
            spec.open_http()
        feed, first = spec.http_feed, spec.http_first
        assert feed is not None
        assert first is not None
        return feed.rows(first, spec.mapping, spec.http_params), "utf-8", feed.close

    def _stage(self, conn: psycopg.Connection[Any], run: dict[str, Any], spec: FeedSpec,
               options: IngestOptions) -> None:
        """Read, validate and COPY the feed batch by batch. Past the first batch the rows are validated
        by a pool of worker processes (one per core) while this process reads and COPYs; batches still
        commit in feed order with their watermark."""
        run_id = int(run["id"])
        t0 = time.perf_counter()
        try:
            rows, encoding, close = self._open_rows(spec)
        except FeedError as exc:
            self._fail(conn, run_id, exc.code, exc.detail)
        today = dt.datetime.now(CHINA_TZ).date()
        local = RowValidator(spec.mapping, self.pii, today)
        workers = options.stage_workers if options.stage_workers is not None else (os.cpu_count() or 1)
        pool: ValidatorPool | None = None
        in_flight: deque[Future[tuple[bytes, int, list[Rejected]]]] = deque()
        skip = int(run["rows_read"])
        rejects: Counter[str] = Counter(run["rejects"] or {})
        location = str(run["location"])
        self.progress.total = spec.manifest.record_count
        part_size = max(1, min(options.stage_part, options.stage_batch))
        pending: deque[_StageBatch] = deque()

        def commit(b: _StageBatch) -> None:
            payloads: list[bytes] = []
            staged = 0
            quarantine = b.quarantine
            for part in b.parts:
                payload, n, rejected = part.result() if isinstance(part, Future) else part
                payloads.append(payload)
                staged += n
                quarantine.extend((run_id, spec.source, location, line, "validate", reason, field_, detail, uscc, "",
                                   raw) for line, reason, field_, detail, uscc, raw in rejected)
            quarantine.sort(key=lambda q: int(q[3]))
            self._commit_stage_batch(conn, run_id, b"".join(payloads), staged, quarantine, b.counts, rejects,
                                     encoding)
            self.progress.update("staging", b.consumed)

        try:
            batch = _StageBatch()
            good: list[tuple[int, tuple[str, ...]]] = []
            consumed = 0

            def submit() -> None:
                nonlocal pool, good
                if not good:
                    return
                if pool is None and workers > 1 and consumed - skip > options.pool_after_rows:
                    pool = ValidatorPool(workers, spec.mapping, self.pii, today)
                if pool is None:
                    batch.parts.append(local.part(good))
                else:
                    # bounded: rows waiting for a worker are held in memory
                    while len(in_flight) >= 2 * workers:
                        in_flight.popleft().exception()
                    future = pool.submit(good)
                    in_flight.append(future)
                    batch.parts.append(future)
                good = []

            try:
                for row in rows:
                    consumed += 1
                    if consumed <= skip:
                        continue
                    batch.counts["rows_read"] += 1
                    if row.blank:
                        batch.counts["blank_lines"] += 1
                    elif row.get is None:
                        batch.quarantine.append((run_id, spec.source, location, row.line, "parse", row.reason, None,
                                                 row.detail or "", None, row.raw, None))
                    else:
                        good.append((row.line, values_of(row.get)))
                        if len(good) >= part_size:
                            submit()
                    if batch.counts["rows_read"] >= options.stage_batch:
                        submit()
                        batch.consumed = consumed
                        pending.append(batch)
                        batch = _StageBatch()
                        # one batch in flight: the workers validate it while the next one is read
                        while pending and (len(pending) > 1 or pending[0].done()):
                            commit(pending.popleft())
            except FeedError as exc:
                self._fail(conn, run_id, exc.code, exc.detail)
            submit()
            batch.consumed = consumed
            pending.append(batch)
            while pending:
                commit(pending.popleft())
            self.progress.update("staging", consumed, force=True)
            self.progress.newline()
        finally:
            close()
            if pool is not None:
                pool.close()
        with conn.transaction():
            repo.update_run(conn, run_id, phase="planning",
                            timings={**(run["timings"] or {}), "stage_s": round(time.perf_counter() - t0, 3),
                                     "stage_workers": workers if pool is not None else 1})

    def _commit_stage_batch(self, conn: psycopg.Connection[Any], run_id: int, payload: bytes, staged: int,
                            quarantine: list[tuple[Any, ...]], counts: Counter[str], rejects: Counter[str],
                            encoding: str) -> None:
        for q in quarantine:
            rejects[str(q[5])] += 1
        with conn.transaction():
            if payload:
                repo.copy_stage(conn, run_id, payload)
            repo.insert_quarantine(conn, quarantine)
            repo.add_counters(conn, run_id, rows_read=counts["rows_read"], blank_lines=counts["blank_lines"],
                              staged=staged, quarantined=len(quarantine))
            repo.update_run(conn, run_id, rejects=dict(rejects), encoding=encoding)

    def _fail(self, conn: psycopg.Connection[Any], run_id: int, code: str, detail: str) -> NoReturn:
        with conn.transaction():
            repo.drop_stage(conn, run_id)
            repo.update_run(conn, run_id, status="failed", phase="done", finished_at=dt.datetime.now(dt.UTC),
                            message=f"{code}: {detail}; nothing was applied")
        exit_code = EXIT_DELTA_GAP if code == "delta_gap" else EXIT_NOTHING_VALID
        raise IngestStop(exit_code, "failed", f"{detail}; nothing was applied", run_id)

    # ------------------------------------------------------------------ plan

    def _refuse(self, conn: psycopg.Connection[Any], run_id: int, guard: dict[str, Any], message: str) -> None:
        with conn.transaction():
            repo.drop_stage(conn, run_id)
            repo.update_run(conn, run_id, status="refused", phase="done", guard=guard,
                            finished_at=dt.datetime.now(dt.UTC), message=message)
        raise IngestStop(EXIT_REFUSED, "refused", message, run_id)

    def _plan(self, conn: psycopg.Connection[Any], run: dict[str, Any], spec: FeedSpec,
              options: IngestOptions) -> None:
        run_id = int(run["id"])
        full = run["kind"] == "full"
        t0 = time.perf_counter()
        with conn.transaction():
            duplicates = repo.dedupe_stage(conn, run_id, spec.source, str(run["location"]))
            if duplicates:
                rejects = dict(run["rejects"] or {})
                rejects["duplicate_uscc"] = rejects.get("duplicate_uscc", 0) + duplicates
                repo.add_counters(conn, run_id, staged=-duplicates, quarantined=duplicates)
                repo.update_run(conn, run_id, rejects=rejects)
        repo.settle_stage(conn, run_id)
        run = repo.get_run(conn, run_id)
        records = int(run["rows_read"]) - int(run["blank_lines"])
        if records == 0:
            self._fail(conn, run_id, "no_rows", "the feed holds a header but no records")
        if int(run["staged"]) == 0:
            self._fail(conn, run_id, "nothing_valid",
                       f"none of the {records} records is valid (see the quarantine of run {run_id})")
        counts = repo.plan_counts(conn, run_id, full=full)
        state = repo.source_state(conn, spec.source)
        size = counts["registry_size"]
        guard_on = size >= self.policy.guard.min_registry_size
        dereg = counts["deregistering"] + counts["absent"]
        touched = counts["changed"] + counts["absent"]
        g = self.policy.guard
        guard: dict[str, Any] = {
            "policy_version": self.policy.version, "registry_size": size, "records": records,
            "deregistering": counts["deregistering"], "absent": counts["absent"], "new": counts["new"],
            "changed": counts["changed"], "guard_applied": guard_on, "forced": bool(run["forced"]),
            "baseline": size == 0, "empty_registry": counts["registry_rows"] == 0, "problems": [],
        }
        problems: list[str] = guard["problems"]
        declared = run["declared_count"]
        if declared is not None and records != declared:
            problems.append(f"the manifest declares {declared} records but the file holds {records} "
                            f"({'truncated' if records < declared else 'extra rows'})")
        if guard_on:
            if dereg > g.max_deregister_share * size:
                problems.append(f"it would deregister, revoke or drop {dereg} of {size} units "
                                f"({dereg / size:.1%} > {g.max_deregister_share:.0%})")
            if touched > g.max_change_share * size:
                problems.append(f"it would change {touched} of {size} units "
                                f"({touched / size:.1%} > {g.max_change_share:.0%})")
            last_full = state["last_full_record_count"] if state else None
            if full and last_full and records < g.min_count_ratio * last_full:
                problems.append(f"it holds {records} records, far below the last full snapshot's {last_full} "
                                f"(< {g.min_count_ratio:.0%})")
        if problems and not run["forced"]:
            self._refuse(conn, run_id, guard, "refused by the safety guard, nothing applied: " + "; ".join(problems)
                         + " (an operator may re-run with --force)")
        with conn.transaction():
            repo.update_run(conn, run_id, phase="applying", guard=guard, new=counts["new"],
                            changed=counts["changed"] - counts["status_changed"],
                            status_changed=counts["status_changed"], unchanged=counts["unchanged"],
                            absent=counts["absent"],
                            timings={**(run["timings"] or {}), "plan_s": round(time.perf_counter() - t0, 3)})

    # ------------------------------------------------------------------ apply

    def _apply(self, conn: psycopg.Connection[Any], run: dict[str, Any], spec: FeedSpec,
               options: IngestOptions, forwarder: Forwarder | None = None) -> None:
        run_id = int(run["id"])
        t0 = time.perf_counter()
        after = str(run["apply_after"])
        started_at: dt.datetime = run["started_at"]
        listed_on = started_at.astimezone(CHINA_TZ).date()
        baseline = bool((run["guard"] or {}).get("baseline"))
        into_empty = bool((run["guard"] or {}).get("empty_registry"))
        since = listed_on - dt.timedelta(days=self.policy.survey.baseline_established_within_days)
        applied = 0
        while True:
            upto = repo.next_chunk_end(conn, run_id, after, options.apply_chunk)
            if upto is None:
                break
            with conn.transaction():
                result = repo.apply_chunk(conn, run_id=run_id, after=after, upto=upto, source=spec.source,
                                          location=str(run["location"]), received_at=started_at,
                                          listed_on=listed_on, sensitive=self.policy.survey.fire_sensitive,
                                          baseline=baseline, baseline_since=since, into_empty=into_empty)
                repo.add_counters(conn, run_id, survey_listed=result["survey_listed"])
                repo.update_run(conn, run_id, apply_after=upto)
            applied += result["merged"]
            after = upto
            if forwarder is not None:
                forwarder.advance(upto)
            self.progress.update("applying", applied)
        with conn.transaction():
            if run["kind"] == "full" and not into_empty:
                repo.mark_absent(conn, run_id, started_at)
            if run["kind"] in ("full", "delta"):
                repo.save_source(conn, source=spec.source, mapping=spec.mapping.name, sequence=run["sequence"],
                                 full=run["kind"] == "full",
                                 record_count=int(run["rows_read"]) - int(run["blank_lines"]), run_id=run_id)
            repo.drop_stage(conn, run_id)
            repo.update_run(conn, run_id, phase="forwarding",
                            timings={**(run["timings"] or {}), "apply_s": round(time.perf_counter() - t0, 3)})
        if forwarder is not None:
            forwarder.finish()

    # ------------------------------------------------------------------ forward

    def _forwarder(self, run_id: int, bound: str | None) -> Forwarder:
        assert self.credit is not None
        return Forwarder(url=self.url, run_id=run_id, credit=self.credit, pii=self.pii, policy=self.policy.forward,
                         sleep=self.sleep, bound=bound,
                         progress=lambda sent: self.progress.update("forwarding", sent))

    def _forward(self, run_id: int, forwarder: Forwarder | None) -> float | None:
        """Forward what is pending (or wait for the forwarder that ran beside the merge); its seconds."""
        if forwarder is not None:
            forwarder.join()
            return forwarder.elapsed
        if self.credit is None:
            return None
        forwarder = self._forwarder(run_id, None)
        forwarder.run()
        return forwarder.elapsed

    def _forward_and_finish(self, conn: psycopg.Connection[Any], run_id: int, started: float,
                            options: IngestOptions, forwarder: Forwarder | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        status, code, message = "succeeded", EXIT_OK, None
        forward_s: float | None = None
        if options.forward:
            try:
                forward_s = self._forward(run_id, forwarder)
            except CreditUnavailable as exc:
                status, code = "forward_pending", EXIT_FORWARD_PENDING
                message = f"credit unavailable ({exc}); unsent changes stay pending for the next run"
            except CreditRefused as exc:
                status, code = "forward_pending", EXIT_FORWARD_PENDING
                message = f"credit refused the upsert ({exc}); unsent changes stay pending"
        self.progress.newline()
        run = repo.get_run(conn, run_id)
        pending = repo.count_pending(conn)
        elapsed_total = (dt.datetime.now(dt.UTC) - run["started_at"]).total_seconds()
        records = int(run["rows_read"]) - int(run["blank_lines"])
        with conn.transaction():
            repo.update_run(
                conn, run_id, status=status, phase="done", finished_at=dt.datetime.now(dt.UTC),
                forward_pending=pending, message=message,
                timings={**(run["timings"] or {}), "forward_s": round(forward_s or 0.0, 3),
                         "forward_after_apply_s": round(time.perf_counter() - t0, 3),
                         "total_s": round(elapsed_total, 3),
                         "rows_per_s": round(records / elapsed_total, 1) if elapsed_total > 0 else None},
            )
        final = repo.get_run(conn, run_id)
        if code != EXIT_OK:
            raise IngestStop(code, status, message or status, run_id)
        return final


def mirror_checksum(database_url: str) -> str:
    url = sync_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        return repo.mirror_checksum(conn)
