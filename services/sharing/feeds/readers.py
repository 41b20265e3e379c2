"""Stream a registration feed in constant memory: files (CSV in UTF-8, UTF-8 with BOM, GB18030/GBK;
JSON Lines; optionally gzip) and HTTP sources that page by cursor.

Every source row comes out as a `SourceRow` with its line number and either a field getter or the
reason it cannot be read; nothing is skipped without being counted (blank lines are counted too).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import pathlib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from services.sharing.feeds.mapping import Mapping
from services.sharing.feeds.normalise import Getter, csv_getter, missing_required_columns

csv.field_size_limit(sys.maxsize if sys.maxsize < 2**31 else 2**31 - 1)
_SURROGATE = re.compile("[\udc80-\udcff]")
# Bytes a CSV feed's codec cannot decode come out as U+DC80..U+DCFF ("surrogateescape"); nothing else
# does (neither codec decodes valid input to a surrogate). The handler below counts them, so a reader
# looks for such characters in its rows only once its file has met one (tests/sharing/test_normalise_fast.py).
_ESCAPE_ERRORS = "sharing-surrogateescape"
_decode_errors = [0]
_surrogateescape = codecs.lookup_error("surrogateescape")


def _counting_surrogateescape(exc: UnicodeError) -> tuple[str | bytes, int]:
    _decode_errors[0] += 1
    return _surrogateescape(exc)


codecs.register_error(_ESCAPE_ERRORS, _counting_surrogateescape)
HEAD_BYTES = 256 * 1024
MAX_RECORD_CHARS = 64 * 1024
ACCEPTED_ENCODINGS = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030", "gbk": "gb18030",
    "gb2312": "gb18030", "auto": "auto",
}


class FeedError(Exception):
    """The feed as a whole cannot be read (nothing from it is applied). `code` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(slots=True)
class SourceRow:
    line: int  # first physical line of the record (1-based; the header is line 1), or item number
    raw: str
    get: Getter | None = None
    reason: str | None = None
    detail: str | None = None
    blank: bool = False


@dataclass
class Manifest:
    """What the producer says about a feed (GLEIF style): a full snapshot or a delta on a base."""

    kind: str = "full"  # full | delta
    sequence: int | None = None
    base_sequence: int | None = None
    record_count: int | None = None
    produced_at: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        kind = str(data.get("kind", "full"))
        if kind not in ("full", "delta"):
            raise FeedError("bad_manifest", f"manifest kind must be full or delta, not `{kind}`")

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            if value is None:
                return None
            try:
                return int(value)
            except (TypeError, ValueError) as exc:
                raise FeedError("bad_manifest", f"manifest `{key}` must be an integer") from exc

        return cls(kind=kind, sequence=opt_int("sequence"), base_sequence=opt_int("base_sequence"),
                   record_count=opt_int("record_count"), produced_at=data.get("produced_at"))


def read_manifest(path: pathlib.Path) -> Manifest | None:
    sidecar = path.with_name(path.name + ".manifest.json")
    if not sidecar.exists():
        return None
    try:
        return Manifest.from_dict(orjson.loads(sidecar.read_bytes()))
    except orjson.JSONDecodeError as exc:
        raise FeedError("bad_manifest", f"{sidecar.name}: not JSON: {exc}") from exc


def file_fingerprint(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def open_binary(path: pathlib.Path) -> io.BufferedReader:
    """The file, gunzipped when it starts with the gzip magic, with a buffer large enough to sniff."""
    raw = io.FileIO(path, "rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        raw.close()
        return io.BufferedReader(gzip.GzipFile(filename=path, mode="rb"), buffer_size=HEAD_BYTES)
    return io.BufferedReader(raw, buffer_size=HEAD_BYTES)


def peek_head(binary: io.BufferedReader) -> bytes:
    try:
        return binary.peek(HEAD_BYTES)[:HEAD_BYTES]
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FeedError("unreadable", f"the file cannot be read: {exc}") from exc


def _decodes(head: bytes, encoding: str) -> bool:
    # the head may end inside a multi-byte character: an incremental decoder ignores the tail
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(head: bytes, declared: str) -> str:
    """Choose the codec, or refuse the file with a reason a clerk can act on."""
    wanted = ACCEPTED_ENCODINGS.get(declared.lower())
    if wanted is None:
        raise FeedError("undeclared_encoding", f"encoding `{declared}` is not accepted (utf-8, utf-8-sig, gb18030)")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4096]:
        raise FeedError("undeclared_encoding",
                        "the file looks like UTF-16 or binary; feeds must be UTF-8 (with or without BOM) or GB18030")
    has_bom = head.startswith(codecs.BOM_UTF8)
    if wanted == "auto":
        if has_bom or _decodes(head, "utf-8"):
            return "utf-8-sig"
        if _decodes(head, "gb18030"):
            return "gb18030"
        # a few foreign rows (a GBK row pasted into a UTF-8 file) must not condemn the file: take the
        # encoding that reads nearly all of it; the odd rows are quarantined one by one
        lines = head.split(b"\n")[:-1] or [head]
        for codec in ("utf-8", "gb18030"):
            bad = 0
            for line in lines:
                try:
                    line.decode(codec)
                except UnicodeDecodeError:
                    bad += 1
            if bad <= max(1, len(lines) // 20):
                return "utf-8-sig" if codec == "utf-8" else codec
        raise FeedError("undeclared_encoding", "the file is neither UTF-8 nor GB18030; declare its encoding")
    if wanted in ("utf-8", "utf-8-sig"):
        if has_bom or _decodes(head, "utf-8"):
            return "utf-8-sig"
        hint = " (it decodes as GB18030: declare --encoding gb18030)" if _decodes(head, "gb18030") else ""
        raise FeedError("undeclared_encoding", f"the file is not UTF-8 as declared{hint}")
    # declared GB18030/GBK
    if has_bom:
        raise FeedError("undeclared_encoding", "GB18030 was declared but the file starts with a UTF-8 BOM")
    if not head.isascii() and _decodes(head, "utf-8"):
        raise FeedError("undeclared_encoding", "GB18030 was declared but the file is UTF-8; declare --encoding utf-8")
    if not _decodes(head, "gb18030"):
        raise FeedError("undeclared_encoding", "the file is not GB18030 as declared")
    return "gb18030"


def _raw_csv(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(row)
    return buf.getvalue()


def _explain_bytes(text: str) -> str:
    data = text.encode("utf-8", "surrogateescape")
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return "bytes that are not valid in the file's encoding"
    return "bytes that are not valid in the file's encoding (they read as GB18030: a GBK row in a UTF-8 file?)"


def iter_csv(binary: io.BufferedReader, mapping: Mapping, encoding: str
             ) -> tuple[str, Iterator[SourceRow], io.TextIOWrapper]:
    codec = detect_encoding(peek_head(binary), encoding)
    errors_before = _decode_errors[0]
    text = io.TextIOWrapper(binary, encoding=codec, errors=_ESCAPE_ERRORS, newline="")
    reader = csv.reader(text, delimiter=mapping.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FeedError("empty_file", "the file is empty: no header, no rows") from None
    except csv.Error as exc:
        raise FeedError("unreadable", f"the header line cannot be read: {exc}") from exc
    if _SURROGATE.search("".join(header)):
        raise FeedError("undeclared_encoding", "the header line is not in the declared encoding")
    missing = missing_required_columns(mapping, header)
    if missing:
        raise FeedError("missing_columns",
                        f"required columns missing from the header: {', '.join(missing)} (mapping `{mapping.name}`)")
    bind = csv_getter(mapping, header)
    width = len(header)
    header_key = [h.lstrip("\ufeff").strip() for h in header]
    first_key = header_key[0]

    def rows() -> Iterator[SourceRow]:
        prev = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start = prev + 1
                prev = reader.line_num
                yield SourceRow(start, "", reason="unreadable_row", detail=f"CSV error: {exc}")
                continue
            start = prev + 1
            prev = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                yield SourceRow(start, "", blank=True)
                continue
            if _decode_errors[0] != errors_before:  # some bytes did not decode: look for them
                joined = "".join(row)
                if _SURROGATE.search(joined):
                    raw = _raw_csv(row)
                    yield SourceRow(start, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                                    reason="encoding", detail=f"row {start} holds {_explain_bytes(joined)}")
                    continue
            if len(row) != width:
                if [c.lstrip("\ufeff").strip() for c in row] == header_key:
                    yield SourceRow(start, _raw_csv(row), reason="repeated_header",
                                    detail="the header line appears again (two files joined?)")
                    continue
                what = "truncated" if len(row) < width else "too many fields"
                yield SourceRow(start, _raw_csv(row), reason="wrong_column_count",
                                detail=f"{len(row)} fields where the header has {width} ({what})")
                continue
            size = sum(map(len, row))
            if size > MAX_RECORD_CHARS:
                yield SourceRow(start, _raw_csv(row)[:MAX_RECORD_CHARS], reason="unbalanced_quote",
                                detail=f"record spans lines {start}-{prev} ({size} characters): "
                                       "an unclosed quote?")
                continue
            if first_key in row[0] and row[0].lstrip("\ufeff").strip() == first_key and \
                    [c.lstrip("\ufeff").strip() for c in row] == header_key:
                yield SourceRow(start, _raw_csv(row), reason="repeated_header",
                                detail="the header line appears again (two files joined?)")
                continue
            yield SourceRow(start, "", bind(row))

    return codec, rows(), text


def _dict_getter(mapping: Mapping, obj: dict[str, Any]) -> Getter:
    columns = mapping.columns

    def get(f: str) -> str:
        col = columns.get(f)
        if not col:
            return ""
        value = obj.get(col)
        if value is None:
            return ""
        return value if isinstance(value, str) else str(value)

    return get


def _check_object(mapping: Mapping, line: int, raw: str, obj: Any) -> SourceRow:
    if not isinstance(obj, dict):
        return SourceRow(line, raw[:MAX_RECORD_CHARS], reason="invalid_json", detail="a line must hold a JSON object")
    bad = [k for k, v in obj.items() if isinstance(v, dict | list)]
    if bad:
        return SourceRow(line, raw[:MAX_RECORD_CHARS], reason="invalid_json",
                         detail=f"nested values are not accepted: {', '.join(bad[:5])}")
    return SourceRow(line, "", get=_dict_getter(mapping, obj))


def iter_jsonl(binary: io.BufferedReader) -> Iterator[tuple[int, bytes]]:
    for line_no, chunk in enumerate(binary, 1):
        yield line_no, chunk[3:] if line_no == 1 and chunk.startswith(codecs.BOM_UTF8) else chunk


def jsonl_rows(binary: io.BufferedReader, mapping: Mapping) -> Iterator[SourceRow]:
    head = peek_head(binary)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FeedError("undeclared_encoding", "JSON Lines must be UTF-8; the file looks like UTF-16")
    any_line = False

    def rows() -> Iterator[SourceRow]:
        nonlocal any_line
        for line_no, data in iter_jsonl(binary):
            any_line = True
            stripped = data.strip()
            if not stripped:
                yield SourceRow(line_no, "", blank=True)
                continue
            try:
                raw = stripped.decode("utf-8")
            except UnicodeDecodeError:
                raw = stripped.decode("utf-8", "replace")
                why = _explain_bytes(stripped.decode("utf-8", "surrogateescape"))
                yield SourceRow(line_no, raw[:MAX_RECORD_CHARS], reason="encoding",
                                detail=f"line {line_no} is not UTF-8 ({why})")
                continue
            try:
                obj = orjson.loads(stripped)
            except orjson.JSONDecodeError as exc:
                yield SourceRow(line_no, raw[:MAX_RECORD_CHARS], reason="invalid_json", detail=f"not JSON: {exc}")
                continue
            yield _check_object(mapping, line_no, raw, obj)
        if not any_line:
            raise FeedError("empty_file", "the file is empty: no records")

    return rows()


@dataclass
class OpenedFeed:
    rows: Iterator[SourceRow]
    encoding: str
    format: str
    close: Callable[[], None]


def open_file_feed(path: pathlib.Path, mapping: Mapping, *, fmt: str = "auto",
                   encoding: str | None = None) -> OpenedFeed:
    if not path.exists():
        raise FeedError("not_found", f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FeedError("empty_file", f"{path.name} is empty (0 bytes)")
    name = path.name.lower().removesuffix(".gz")
    if fmt == "auto":
        fmt = "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "csv"
    binary = open_binary(path)
    try:
        if fmt == "jsonl":
            return OpenedFeed(jsonl_rows(binary, mapping), "utf-8", "jsonl", binary.close)
        codec, rows, text = iter_csv(binary, mapping, encoding or mapping.encoding)
        return OpenedFeed(rows, codec, "csv", text.close)
    except BaseException:
        binary.close()
        raise


@dataclass
class HttpPage:
    manifest: Manifest
    items: list[dict[str, Any]]
    next_cursor: str | None


class HttpFeed:
    """A source that pages by cursor: `GET {url}?kind=&since_sequence=&cursor=&limit=` answers
    `{kind, sequence, base_sequence, record_count, items: [...], next_cursor}` (feed contract v1),
    or 410 when the asked-for deltas are no longer available (a full snapshot is needed)."""

    def __init__(self, url: str, *, timeout: float = 30.0, page_size: int = 5000, token: str | None = None) -> None:
        self.url = url
        self.page_size = page_size
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(timeout=timeout, headers=headers)

    def first_page(self, kind: str, since_sequence: int | None) -> HttpPage:
        params: dict[str, str | int] = {"kind": kind, "limit": self.page_size}
        if since_sequence is not None:
            params["since_sequence"] = since_sequence
        return self._get(params)

    def _get(self, params: dict[str, str | int]) -> HttpPage:
        try:
            response = self.client.get(self.url, params=params)
        except httpx.HTTPError as exc:
            raise FeedError("source_unreachable", f"{self.url}: {exc}") from exc
        if response.status_code == 410:
            raise FeedError("delta_gap", "the source no longer has the deltas since our last sequence")
        if response.status_code != 200:
            raise FeedError("source_error", f"{self.url}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FeedError("source_error", f"{self.url}: answer is not JSON") from exc
        return HttpPage(manifest=Manifest.from_dict(body), items=list(body.get("items", [])),
                        next_cursor=body.get("next_cursor"))

    def rows(self, first: HttpPage, mapping: Mapping, params: dict[str, str | int]) -> Iterator[SourceRow]:
        number = 0
        page: HttpPage | None = first
        while page is not None:
            for item in page.items:
                number += 1
                yield _check_object(mapping, number, orjson.dumps(item).decode(), item)
            if not page.next_cursor:
                return
            page = self._get({**params, "cursor": page.next_cursor})

    def close(self) -> None:
        self.client.close()
