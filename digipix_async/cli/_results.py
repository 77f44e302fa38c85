"""The output file of ``digipix quote-bulk``: written as carts finish, resumed after a crash.

Each cart's entry (one JSONL line, or its CSV rows) goes out in ONE unbuffered
write, so a process killed at any instant leaves whole entries plus at most one
partial last line; reopening cuts that line off and reads which carts are already
answered. A write that fails (a full disk) is cut off at once, so the file never
holds a partial entry that a later one would be glued to. An advisory lock
refuses a second process writing the same file.
Entries hold no newline inside (JSON escapes them; CSV cells have control
characters replaced), so one physical line is one record.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["CSV_HEADER", "OutputFileError", "OutputWriteError", "ResultFile"]

CSV_HEADER: Final = (
    "cart_id",
    "ok",
    "option_id",
    "shipment_method_id",
    "option_name",
    "cost",
    "estimated_delivery_days",
    "error_type",
    "error_message",
)
#: Our own lines are far shorter; a longer one means the file is not ours.
_MAX_LINE: Final = 4 * 1024 * 1024

try:
    import fcntl
except ImportError:  # Windows: no advisory lock, the rest works
    fcntl = None  # type: ignore[assignment]


class OutputFileError(ValueError):
    """The output file exists but is not a quote-bulk result file we can resume."""


class OutputWriteError(OSError):
    """The output file cannot be written (a full disk, a file too large, an I/O error).

    The entry being written is not in the file: it holds whole entries only.
    """


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # One record per physical line: resume cuts at newlines.
    return "".join(ch if ch.isprintable() else " " for ch in text)


class ResultFile:
    """Append cart entries to ``path`` (JSONL or CSV), resuming what is already there.

    ``answered`` maps every cart id found in the file when it was opened to whether
    it succeeded: on a rerun those ids are kept in memory (tens of bytes each). The
    entries written by this run are not added, so a fresh run's memory stays flat.
    """

    def __init__(self, path: str, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.answered: dict[str, bool] = {}
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._file = open(fd, "r+b", buffering=0)  # noqa: SIM115 - closed by close()
        try:
            self._lock()
            end = self._scan()
            if self._file.seek(0, os.SEEK_END) != end:
                self._file.truncate(end)  # a partial last line from a killed run
            self._file.seek(end)
            self._end = end  # after the last whole entry
            if end == 0 and fmt == "csv":
                self._write(self._csv_rows([CSV_HEADER]))
        except BaseException:
            self._file.close()
            raise

    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFileError(
                f"{self.path} is being written by another digipix process"
            ) from None

    def _scan(self) -> int:
        """Read the answered carts; return the offset after the last whole line."""
        end = 0
        number = 0
        # A second descriptor: the lock is held by ours, and reading needs a buffer.
        with open(self.path, "rb") as reader:
            while True:
                raw = reader.readline(_MAX_LINE + 1)
                if not raw.endswith(b"\n"):
                    if len(raw) > _MAX_LINE or not self._could_be_ours(raw, number):
                        raise OutputFileError(
                            f"{self.path} line {number + 1} is not a quote-bulk result"
                        )
                    return end  # EOF, or a partial line to cut off
                number += 1
                end += len(raw)
                self._read_entry(raw, number)

    def _could_be_ours(self, partial: bytes, number: int) -> bool:
        """Whether ``partial`` (a last line without its newline) may be a write of ours
        cut short. Only that is cut off: anything else is somebody's file, kept."""
        if not partial:
            return True
        if self.fmt == "csv":
            if number > 0:  # after our header: a row cut anywhere
                return True
            start = ",".join(CSV_HEADER).encode()
        else:
            start = _JSON_START
        return partial.startswith(start) or start.startswith(partial)

    def _read_entry(self, raw: bytes, number: int) -> None:
        where = f"{self.path} line {number}"
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise OutputFileError(f"{where} is not UTF-8: not a quote-bulk result") from None
        if self.fmt == "csv":
            row = next(csv.reader([text]), [])
            if number == 1:
                if tuple(row) != CSV_HEADER:
                    raise OutputFileError(
                        f"{where}: not a quote-bulk CSV header ({','.join(CSV_HEADER)})"
                    )
                return
            if len(row) != len(CSV_HEADER) or row[1] not in ("true", "false") or not row[0]:
                raise OutputFileError(f"{where} is not a quote-bulk result row")
            cart_id, ok = row[0], row[1] == "true"
        else:
            if not text.strip():
                return
            try:
                entry = json.loads(text)
            except ValueError:
                raise OutputFileError(f"{where} is not JSON: not a quote-bulk result") from None
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("cart_id"), str)
                or not isinstance(entry.get("ok"), bool)
            ):
                raise OutputFileError(f"{where} has no cart_id and ok: not a quote-bulk result")
            cart_id, ok = entry["cart_id"], entry["ok"]
        self.answered[cart_id] = ok

    # -- writing -------------------------------------------------------------------------

    def write_ok(self, cart_id: str, options: Sequence[Mapping[str, Any]]) -> None:
        """Record a quoted cart with its options (already JSON-ready mappings)."""
        if self.fmt == "csv":
            rows: list[tuple[Any, ...]] = [
                (
                    cart_id,
                    "true",
                    option.get("id"),
                    option.get("shipment_method_id"),
                    option.get("name"),
                    option.get("cost"),
                    option.get("estimated_delivery_days"),
                    None,
                    None,
                )
                for option in options
            ] or [(cart_id, "true", *([None] * 7))]  # a cart with no option still has its row
            data = self._csv_rows(rows)
        else:
            data = _json_line({"cart_id": cart_id, "ok": True, "options": list(options)})
        self._write(data)

    def write_failed(self, cart_id: str, error: Mapping[str, Any]) -> None:
        """Record a cart that failed, with ``{"type", "message", ...}``."""
        if self.fmt == "csv":
            row = (cart_id, "false", *([None] * 5), error.get("type"), error.get("message"))
            data = self._csv_rows([row])
        else:
            data = _json_line({"cart_id": cart_id, "ok": False, "error": dict(error)})
        self._write(data)

    @staticmethod
    def _csv_rows(rows: Sequence[Sequence[Any]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([_cell(value) for value in row] for row in rows)
        return buffer.getvalue().encode("utf-8")

    def _write(self, data: bytes) -> None:
        # Unbuffered: every call is a write(2) straight to the file, nothing waits in a buffer.
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                view = view[written or 0 :]
        except OSError as error:
            with contextlib.suppress(OSError):  # shrinking a file needs no new space
                self._file.truncate(self._end)
                self._file.seek(self._end)
            raise self._failed(error) from error
        self._end += len(data)

    def __enter__(self) -> ResultFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Sync the file to disk and close it (the lock goes with it)."""
        if self._file.closed:
            return
        try:
            os.fsync(self._file.fileno())
        except OSError as error:
            raise self._failed(error) from error
        finally:
            self._file.close()

    def _failed(self, error: OSError) -> OutputWriteError:
        return OutputWriteError(error.errno, error.strerror or str(error), self.path)


def _json_line(entry: Mapping[str, Any]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


#: How every JSONL entry we write begins (``cart_id`` first, compact separators).
_JSON_START: Final = _json_line({"cart_id": ""})[: len(b'{"cart_id":')]
