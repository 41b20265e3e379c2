"""Validation of source rows into COPY lines for the stage table: the per-row hot path of the ingest.

The same function runs in the job's own process (small feeds) or in a pool of worker processes (one
per core, `ValidatorPool`) that the stage phase feeds with parts of each committed batch; results are committed in
feed order, so the watermark (rows read) means the same thing either way.

A part is a list of `(line, values)` where `values` holds the source value of every contract field
(`CONTRACT_FIELDS` order, "" when the source has no such column); the result is the COPY text of the
valid rows and, for each rejected row, `(line, reason, field, detail, uscc, raw)`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from hashlib import blake2b
from itertools import chain
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kit.ids import mask_citizen_id
from services.kit.pii import PiiProtector
from services.sharing.feeds.mapping import CONTRACT_FIELDS, Mapping
from services.sharing.feeds.normalise import FIELD_INDEX, FeedRecord, Normaliser, RowRejected, RowValues

Part = list[tuple[int, tuple[str, ...]]]
Rejected = tuple[int, str, str | None, str, str | None, dict[str, str]]
_NULL = "\\N"


def _esc(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _opt(value: object) -> str:
    if value is None:
        return "\\N"
    return _esc(str(value))


class RecordEncoder:
    """FeedRecord -> one COPY text line; protects the legal representative's id number."""

    def __init__(self, pii: PiiProtector) -> None:
        self.pii = pii
        self._aes = AESGCM(pii.encryption_key)
        # dates and change stamps repeat from row to row (the normaliser hands out one object per source value)
        self._day_text: dict[dt.date, str] = {}
        self._stamp_text: dict[dt.datetime, str] = {}

    def _day(self, value: dt.date) -> str:
        text = value.isoformat()
        if len(self._day_text) >= 50_000:
            self._day_text.clear()
        self._day_text[value] = text
        return text

    def _stamp(self, value: dt.datetime) -> str:
        text = value.isoformat()
        if len(self._stamp_text) >= 4_096:
            self._stamp_text.clear()
        self._stamp_text[value] = text
        return text

    def line(self, source_line: int, rec: FeedRecord, nonce: bytes | None = None) -> str:
        """The record's COPY line; `nonce` (12 random bytes) for the id number's encryption, else drawn here."""
        rid = rec.legal_rep_id
        if rid:
            id_hash = "\\\\x" + self.pii.match_hash(rid).hex()
            if nonce is None:
                nonce = os.urandom(12)
            cipher = "\\\\x" + (nonce + self._aes.encrypt(nonce, rid.encode("ascii"), b"citizen_id")).hex()
            masked = mask_citizen_id(rid)
        else:
            id_hash = cipher = masked = "\\N"
        et, rn, cap, cur, est = (rec.entity_type, rec.legal_rep_name, rec.registered_capital, rec.capital_currency,
                                 rec.established_on)
        auth, sdate, addr, ind, scope = (rec.reg_authority, rec.reg_status_date, rec.address, rec.industry_code,
                                         rec.business_scope)
        day_text = self._day_text
        cap_text = None if cap is None else str(cap)
        est_text = None if est is None else (day_text.get(est) or self._day(est))
        sdate_text = None if sdate is None else (day_text.get(sdate) or self._day(sdate))
        # FeedRecord.content_key(), from the strings this line needs anyway (a test holds them equal)
        key = "\x1f".join((
            rec.uscc, rec.name, et or "", rec.unit_type, rn or "", rid or "", cap_text or "", cur or "",
            est_text or "", auth or "", rec.reg_status, rec.reg_status_label, sdate_text or "", addr or "",
            rec.region_code, ind or "", scope or "",
        ))
        content = blake2b(key.encode("utf-8"), digest_size=16).hexdigest()
        if "\\" in key or "\t" in key or "\n" in key or "\r" in key:
            head = key[:len(key) - len(scope)] if scope else key  # the key ends with the scope
            if "\\" in head or "\t" in head or "\n" in head or "\r" in head:
                return self._escaped_line(source_line, rec, id_hash, cipher, masked, content)
        # Nothing to escape before the scope: every value the line escapes is in the content key (as its str(),
        # None as ""), except changed_at (an isoformat), change_type and the scope (escaped here).
        changed = rec.changed_at
        return (
            f"{source_line}\t{rec.uscc}\t{rec.name}\t{_NULL if et is None else et}\t{rec.unit_type}\t"
            f"{_NULL if rn is None else rn}\t{id_hash}\t{cipher}\t{masked}\t{cap_text or _NULL}\t"
            f"{_NULL if cur is None else cur}\t{est_text or _NULL}\t{_NULL if auth is None else auth}\t"
            f"{rec.reg_status}\t{rec.reg_status_label}\t{sdate_text or _NULL}\t{_NULL if addr is None else addr}\t"
            f"{rec.region_code}\t{_NULL if ind is None else ind}\t{_NULL if scope is None else _esc(scope)}\t"
            f"{_NULL if changed is None else self._stamp_text.get(changed) or self._stamp(changed)}\t"
            f"{_opt(rec.change_type)}\t\\\\x{content}\n"
        )

    @staticmethod
    def _escaped_line(source_line: int, rec: FeedRecord, id_hash: str, cipher: str, masked: str, content: str) -> str:
        return "\t".join((
            str(source_line), rec.uscc, _esc(rec.name), _opt(rec.entity_type), rec.unit_type,
            _opt(rec.legal_rep_name), id_hash, cipher, masked, _opt(rec.registered_capital),
            _opt(rec.capital_currency), _opt(rec.established_on), _opt(rec.reg_authority), rec.reg_status,
            _esc(rec.reg_status_label), _opt(rec.reg_status_date), _opt(rec.address), rec.region_code,
            _opt(rec.industry_code), _opt(rec.business_scope),
            rec.changed_at.isoformat() if rec.changed_at else "\\N", _opt(rec.change_type), "\\\\x" + content,
        )) + "\n"


class RowValidator:
    def __init__(self, mapping: Mapping, pii: PiiProtector, today: dt.date | None = None) -> None:
        self.normaliser = Normaliser(mapping, today=today)
        self.encoder = RecordEncoder(pii)
        self.columns = tuple(mapping.columns)
        self._raw_fields = tuple((f, FIELD_INDEX[f]) for f in self.columns)

    def part(self, rows: Sequence[tuple[int, Sequence[str]]]) -> tuple[bytes, int, list[Rejected]]:
        out: list[str] = []
        rejected: list[Rejected] = []
        record = self.normaliser.record_of
        line_of = self.encoder.line
        width = len(CONTRACT_FIELDS)
        nonces = os.urandom(12 * len(rows))  # one draw per part, a fresh 12 bytes for each row
        for at, (line, values) in enumerate(rows):
            if len(values) != width:
                raise ValueError(f"line {line}: {len(values)} values, the contract has {width} fields")
            try:
                rec = record(values)
            except RowRejected as exc:
                raw = {f: values[i] for f, i in self._raw_fields}
                rejected.append((line, exc.reason, exc.field, exc.detail, raw.get("uscc") or None, raw))
            else:
                out.append(line_of(line, rec, nonces[12 * at:12 * at + 12]))
        return "".join(out).encode("utf-8"), len(out), rejected


_worker: RowValidator | None = None


def init_worker(mapping: Mapping, pii: PiiProtector, today: dt.date) -> None:
    global _worker
    _worker = RowValidator(mapping, pii, today)


def validate_part(rows: Part) -> tuple[bytes, int, list[Rejected]]:
    """Entry point in a pool worker (after `init_worker`)."""
    assert _worker is not None
    return _worker.part(rows)


def values_of(get: Any) -> tuple[str, ...]:
    if type(get) is RowValues:  # the CSV reader's rows hold them already
        return get.values
    return tuple(get(f) for f in CONTRACT_FIELDS)


# ---------------------------------------------------------------------- worker processes
#
# Plain subprocesses (`python -m services.sharing.ingest.validate`) speaking length-prefixed pickle
# frames on stdin/stdout: a worker imports only this module (~30 MB) where a multiprocessing child
# would re-import the job's whole main module. A worker whose parent dies (kill -9) reads EOF and exits.

_FRAME = struct.Struct("!Q")
_SEP = "\x00"


def encode_part(rows: Part) -> bytes:
    """A part as one frame. Its values travel as one string joined by NUL (one object to pickle instead of
    17 per row, about half the cost on both sides), unless a value holds a NUL itself."""
    width = len(CONTRACT_FIELDS)
    values = [v for _, v in rows]
    if values and set(map(len, values)) == {width}:
        try:
            flat = _SEP.join(chain.from_iterable(values))
        except TypeError:
            flat = ""
        if flat.count(_SEP) == width * len(values) - 1:
            return pickle.dumps(("flat", [line for line, _ in rows], flat), protocol=pickle.HIGHEST_PROTOCOL)
    return pickle.dumps(("rows", rows), protocol=pickle.HIGHEST_PROTOCOL)


def decode_part(frame: bytes) -> list[tuple[int, tuple[str, ...]]]:
    message = pickle.loads(frame)  # noqa: S301 - sent by our parent
    if message[0] == "flat":
        _, lines, flat = message
        values = iter(flat.split(_SEP))
        return list(zip(lines, zip(*[values] * len(CONTRACT_FIELDS), strict=False), strict=True))
    return message[1]  # type: ignore[no-any-return]


def _send(stream: IO[bytes], data: bytes) -> None:
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


def _recv(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


class WorkerFailed(RuntimeError):
    """A validation worker died or raised; the stage batch is not committed (the run can be resumed)."""


class ValidatorPool:
    """N validation processes, each driven by one thread (`submit` returns a Future, like an executor)."""

    def __init__(self, workers: int, mapping: Mapping, pii: PiiProtector, today: dt.date) -> None:
        self._init = pickle.dumps((mapping, pii, today), protocol=pickle.HIGHEST_PROTOCOL)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sharing-validate")
        self._local = threading.local()
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()

    def _proc(self) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] | None = getattr(self._local, "proc", None)
        if proc is None:
            root = str(pathlib.Path(__file__).resolve().parents[3])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
            proc = subprocess.Popen([sys.executable, "-m", "services.sharing.ingest.validate"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root)
            with self._lock:
                self._procs.append(proc)
            assert proc.stdin is not None
            _send(proc.stdin, self._init)
            self._local.proc = proc
        return proc

    def _run(self, rows: Part) -> tuple[bytes, int, list[Rejected]]:
        proc = self._proc()
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            _send(proc.stdin, encode_part(rows))
            answer = _recv(proc.stdout)
        except OSError as exc:
            raise WorkerFailed(f"validation worker {proc.pid} is gone: {exc}") from exc
        if answer is None:
            raise WorkerFailed(f"validation worker {proc.pid} exited (code {proc.poll()})")
        ok, result = pickle.loads(answer)  # noqa: S301 - our own child process
        if not ok:
            raise WorkerFailed(f"validation worker failed: {result}")
        return result  # type: ignore[no-any-return]

    def submit(self, rows: Part) -> Future[tuple[bytes, int, list[Rejected]]]:
        return self._threads.submit(self._run, rows)

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for proc in self._procs:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()


def _serve() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    init = _recv(stdin)
    if init is None:
        return 0
    mapping, pii, today = pickle.loads(init)  # noqa: S301 - sent by our parent
    validator = RowValidator(mapping, pii, today)
    while (frame := _recv(stdin)) is not None:
        try:
            answer: tuple[bool, Any] = (True, validator.part(decode_part(frame)))
        except Exception as exc:
            answer = (False, f"{type(exc).__name__}: {exc}")
        _send(stdout, pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
