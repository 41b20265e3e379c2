"""Forwarding mirror rows to credit: USCC ranges read in order, batches sent concurrently, each
acknowledged batch recorded in its own transaction.

* A reader walks the mirror range by range in USCC order (units whose content credit has not
  acknowledged, see `sharing.forward_state`; within a range in no particular order), up to a bound:
  while the apply phase is still merging, only the chunks it has committed (`advance(upto)`), so
  forwarding runs beside the merge (pipelining); after it, everything (`finish()`).
* Up to `policy.forward.concurrency` batches are in flight at once (credit's API processes are
  stateless replicas; its bulk upsert is idempotent, so the order of acknowledgements does not matter).
* Each sender records its batch's acknowledgements (the content hash sent, the version credit gave) in
  one transaction on its own connection. A kill at any point leaves unacknowledged rows
  pending; the next run resends them and credit answers `unchanged` for what it already holds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg

from services.kit.pii import PiiProtector
from services.sharing.credit_api.client import BulkResult, CreditClient, CreditUnavailable
from services.sharing.ingest import repository as repo
from services.sharing.policy import ForwardPolicy

_log = logging.getLogger("sharing.ingest")

_UNBOUNDED = None
_USCC = repo.PENDING_COLUMNS.index("uscc")
_HASH = repo.PENDING_COLUMNS.index("content_hash")
_LINE = repo.PENDING_COLUMNS.index("source_line")


class ForwardAborted(Exception):
    """The run that owns the forwarder stopped (its apply failed); unsent rows stay pending."""


class Forwarder:
    def __init__(self, *, url: str, run_id: int, credit: CreditClient, pii: PiiProtector, policy: ForwardPolicy,
                 sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[int], None] | None = None, bound: str | None = _UNBOUNDED) -> None:
        self.url = url
        self.run_id = run_id
        self.credit = credit
        self.pii = pii
        self.policy = policy
        self.sleep = sleep
        self.progress = progress
        self.sent = 0
        self.started = time.perf_counter()
        self.elapsed = 0.0
        self.error: BaseException | None = None
        self._bound = bound
        self._finished = bound is _UNBOUNDED
        self._aborted = False
        self._cv = threading.Condition()
        self._local = threading.local()
        self._conns: list[psycopg.Connection[Any]] = []
        self._conns_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control (from the apply loop)

    def advance(self, upto: str) -> None:
        """Rows with uscc <= upto are merged and committed: they may be forwarded."""
        with self._cv:
            self._bound = upto
            self._cv.notify_all()

    def finish(self) -> None:
        """The merge is done: forward everything pending."""
        with self._cv:
            self._finished = True
            self._bound = _UNBOUNDED
            self._cv.notify_all()

    def abort(self) -> None:
        with self._cv:
            self._aborted = True
            self._cv.notify_all()

    def start(self) -> None:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # reported to the owner by join()
                self.error = exc

        self._thread = threading.Thread(target=target, name=f"sharing-forward-{self.run_id}", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the background forwarder; re-raise what stopped it."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------ reader

    def _window(self, after: str) -> tuple[bool, str | None]:
        """(go on, bound): waits while nothing beyond `after` is merged yet."""
        with self._cv:
            while True:
                if self._aborted:
                    raise ForwardAborted("the run stopped")
                if self._finished:
                    return True, _UNBOUNDED
                if self._bound is not None and self._bound > after:
                    return True, self._bound
                self._cv.wait()

    def run(self) -> None:
        size = self.policy.batch_size
        width = max(1, self.policy.concurrency)
        after = ""
        batch_no = 0
        in_flight: deque[Future[int]] = deque()
        try:
            with repo.connect(self.url, "sharing-forward-reader") as reader, \
                    ThreadPoolExecutor(max_workers=width, thread_name_prefix="sharing-send") as pool:
                try:
                    while True:
                        _, bound = self._window(after)
                        # one pass over the merged range: its pending rows stream from a server-side
                        # cursor in batches (paging with ORDER BY ... LIMIT re-planned every batch, and a
                        # hash join's sort made each page cost the whole range)
                        with repo.pending_cursor(reader, after, bound) as cursor:
                            while rows := cursor.fetchmany(size):
                                batch_no += 1
                                while len(in_flight) >= width:
                                    self._done(in_flight.popleft().result())
                                in_flight.append(
                                    pool.submit(self._send_batch, rows, f"sharing-run{self.run_id}-b{batch_no}"))
                        if bound is _UNBOUNDED:
                            break
                        after = bound
                    while in_flight:
                        self._done(in_flight.popleft().result())
                except BaseException:
                    for f in in_flight:  # let what is in flight land (or fail) before reporting
                        f.cancel()
                    for f in in_flight:
                        if not f.cancelled():
                            with contextlib.suppress(BaseException):  # the first error is the one reported
                                f.result()
                    raise
        finally:
            self.elapsed = time.perf_counter() - self.started
            with self._conns_lock:
                for c in self._conns:
                    c.close()
                self._conns.clear()

    def _done(self, n: int) -> None:
        self.sent += n
        if self.progress is not None:
            self.progress(self.sent)

    # ------------------------------------------------------------------ senders (pool threads)

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = repo.connect(self.url, "sharing-forward")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def unit_in(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """A mirror row (`repo.pending_cursor`) as a credit `UnitIn` item."""
        (uscc, name, unit_type, reg_status, reg_status_date, reg_authority, region_code, industry_code, address,
         established_on, legal_rep_name, legal_rep_id_cipher, _hash, _line) = row
        item: dict[str, Any] = {
            "uscc": uscc, "name": name, "unit_type": unit_type, "reg_status": reg_status, "region_code": region_code,
        }
        if reg_authority:
            item["reg_authority"] = reg_authority
        if industry_code:
            item["industry_code"] = industry_code
        if address:
            item["address"] = address
        if reg_status_date is not None:
            item["reg_status_date"] = reg_status_date
        if established_on is not None:
            item["established_on"] = established_on
        if legal_rep_id_cipher is not None and legal_rep_name:
            item["persons"] = [{"role": "legal_representative", "name": legal_rep_name,
                                "citizen_id": self.pii.decrypt(bytes(legal_rep_id_cipher))}]
        return item

    def send(self, items: list[dict[str, Any]], request_id: str) -> BulkResult:
        """credit unreachable / 5xx / 429: exponential backoff until the policy gives up."""
        f = self.policy
        delay = f.retry_initial_seconds
        deadline = time.monotonic() + f.give_up_after_seconds
        attempt = 0
        while True:
            if self._aborted:
                raise ForwardAborted("the run stopped")
            attempt += 1
            try:
                return self.credit.import_units(items, request_id=request_id)
            except CreditUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                _log.warning("credit unavailable, retrying", extra={"attempt": attempt, "delay_s": delay,
                                                                     "error": str(exc)})
                self.sleep(delay)
                delay = min(delay * 2, f.retry_max_seconds)

    def _send_batch(self, rows: list[tuple[Any, ...]], request_id: str) -> int:
        items = [self.unit_in(r) for r in rows]
        result = self.send(items, request_id)
        done: list[tuple[str, bytes, int | None]] = []
        rejected: list[tuple[str, bytes]] = []
        quarantine: list[tuple[Any, ...]] = []
        for r in result.results:
            row = rows[r.index]
            if r.outcome == "rejected":
                rejected.append((row[_USCC], bytes(row[_HASH])))
                detail = "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in r.errors) or "rejected"
                first = r.errors[0].get("field") if r.errors else None
                quarantine.append((self.run_id, "credit", f"credit:{self.credit.units_path()}", int(row[_LINE]),
                                   "credit", "credit_rejected", first, detail, row[_USCC], "",
                                   {k: v for k, v in items[r.index].items() if k != "persons"}))
            else:
                done.append((row[_USCC], bytes(row[_HASH]), r.version))
        conn = self._conn()
        with conn.transaction():
            repo.mark_forwarded(conn, done)
            repo.mark_rejected(conn, rejected)
            repo.insert_quarantine(conn, quarantine)
            repo.add_counters(conn, self.run_id, forwarded=len(done), forward_rejected=len(rejected))
        return len(rows)
