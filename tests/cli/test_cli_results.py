"""The quote-bulk output file: whole entries, resumable, refused when it is not ours."""

from __future__ import annotations

import errno
import json
import pathlib
from typing import Any

import pytest

from digipix_async.cli._results import CSV_HEADER, OutputFileError, OutputWriteError, ResultFile

OPTION = {"id": "s1", "shipment_method_id": 1, "name": "Cheapest", "cost": "2.98",
          "estimated_delivery_days": 7}  # fmt: skip
ERROR = {"type": "BadRequestError", "message": "400 (POST /v1/quote): bad\nthing", "status": 400}


def answered_in(path: pathlib.Path, fmt: str) -> dict[str, bool]:
    with ResultFile(str(path), fmt) as results:
        return results.answered


def test_jsonl_entries_are_whole_lines_and_read_back_on_resume(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.jsonl"
    results = ResultFile(str(path), "jsonl")
    results.write_ok("c1", [OPTION])
    results.write_failed("c2", ERROR)
    results.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"cart_id": "c1", "ok": True, "options": [OPTION]},
        {"cart_id": "c2", "ok": False, "error": ERROR},
    ]
    assert answered_in(path, "jsonl") == {"c1": True, "c2": False}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_partial_last_line_from_a_killed_run_is_cut_off(tmp_path: pathlib.Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    results = ResultFile(str(path), fmt)
    results.write_ok("c1", [OPTION])
    results.close()
    whole = path.read_bytes()
    with path.open("ab") as raw:
        raw.write(b'{"cart_id": "c2", "ok": tr' if fmt == "jsonl" else b"c2,true,s9,1,Chea")

    resumed = ResultFile(str(path), fmt)
    assert resumed.answered == {"c1": True}
    resumed.write_ok("c2", [])
    resumed.close()

    assert path.read_bytes().startswith(whole)
    assert answered_in(path, fmt) == {"c1": True, "c2": True}


def test_csv_has_one_row_per_option_and_one_per_failed_cart(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.csv"
    results = ResultFile(str(path), "csv")
    results.write_ok("c1", [OPTION, {**OPTION, "id": "s2", "shipment_method_id": 2}])
    results.write_ok("c3", [])
    results.write_failed("c2", ERROR)
    results.close()

    assert path.read_text(encoding="utf-8").splitlines() == [
        ",".join(CSV_HEADER),
        "c1,true,s1,1,Cheapest,2.98,7,,",
        "c1,true,s2,2,Cheapest,2.98,7,,",
        "c3,true,,,,,,,",
        # The newline of the message is flattened: one record is one physical line.
        "c2,false,,,,,,BadRequestError,400 (POST /v1/quote): bad thing",
    ]
    assert answered_in(path, "csv") == {"c1": True, "c3": True, "c2": False}


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("jsonl", b'{"cart_id": "c1", "ok": true}\nhello\n', "line 2 is not JSON"),
        ("jsonl", b'{"id": "c1"}\n', "line 1 has no cart_id and ok"),
        ("csv", b"a,b,c\n", "line 1: not a quote-bulk CSV header"),
        ("csv", (",".join(CSV_HEADER) + "\nc1,maybe,,,,,,,\n").encode(), "line 2 is not a"),
    ],
)
def test_a_file_that_is_not_a_result_file_is_refused_untouched(
    tmp_path: pathlib.Path, fmt: str, content: bytes, message: str
) -> None:
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(content)

    with pytest.raises(OutputFileError, match=message):
        ResultFile(str(path), fmt)
    assert path.read_bytes() == content


def test_a_second_writer_of_the_same_file_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.jsonl"
    first = ResultFile(str(path), "jsonl")
    try:
        with pytest.raises(OutputFileError, match="being written by another digipix process"):
            ResultFile(str(path), "jsonl")
    finally:
        first.close()
    ResultFile(str(path), "jsonl").close()  # free again once the first is closed


class FillingUp:
    """A file on a disk that fills up: the first write goes out half, then ENOSPC."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.full = False

    def write(self, data: memoryview) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.full = True
        return int(self.real.write(data[: len(data) // 2]))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_write_the_disk_refuses_leaves_whole_entries_only(
    tmp_path: pathlib.Path, fmt: str
) -> None:
    path = tmp_path / f"out.{fmt}"
    results = ResultFile(str(path), fmt)
    results.write_ok("c1", [OPTION])
    whole = path.read_bytes()
    real = results._file
    results._file = FillingUp(real)

    with pytest.raises(OutputWriteError) as raised:
        results.write_failed("c2", ERROR)

    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(path))
    assert path.read_bytes() == whole  # the half entry is cut off at once
    results._file = real  # room again: the next entry starts on a line of its own
    results.write_ok("c3", [OPTION])
    results.close()
    assert answered_in(path, fmt) == {"c1": True, "c3": True}


@pytest.mark.parametrize(
    ("fmt", "content"),
    [("jsonl", b"my precious notes"), ("csv", b"cart_id,zip_code\nc1,0131"),
     ("csv", b"total")],
)  # fmt: skip
def test_a_file_without_a_newline_is_not_taken_for_a_cut_write(
    tmp_path: pathlib.Path, fmt: str, content: bytes
) -> None:
    # A one-line file with no newline read as a partial line of ours: it was cut off,
    # so `-o notes.jsonl` erased the notes.
    path = tmp_path / f"notes.{fmt}"
    path.write_bytes(content)

    with pytest.raises(OutputFileError, match="not a quote-bulk"):
        ResultFile(str(path), fmt)

    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("fmt", "cut"), [("jsonl", b'{"ca'), ("jsonl", b'{"cart_id":"c9","ok":tr'), ("csv", b"cart_i")]
)
def test_a_first_write_cut_short_is_still_cut_off(
    tmp_path: pathlib.Path, fmt: str, cut: bytes
) -> None:
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(cut)

    with ResultFile(str(path), fmt) as results:
        assert results.answered == {}
        results.write_ok("c1", [OPTION])

    assert answered_in(path, fmt) == {"c1": True}
