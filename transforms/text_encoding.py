"""The text encoding of a CSV claims file: how it is read, and the one sentence refusing a file that is not
UTF-8 when none was declared (`[source] encoding`, README "Input").

- "auto" (the default): UTF-8, with or without a byte-order mark, read as it is (strictly: a byte that is
  not UTF-8 refuses the file, naming its line and the setting); a file that starts with a UTF-16
  byte-order mark is UTF-16. Nothing else is guessed: every byte string is valid Latin-1, and Latin-1 and
  Windows-1252 differ only in bytes both can hold, so reading either by guess could merge two ids that
  differ in one letter (PR-MÜLLER, PR-MÄLLER) or change one silently.
- A declared encoding: the file is read as that encoding. UTF-8 is read where it lies; any other is
  transcoded, streaming, into a UTF-8 copy under the night's work folder. A byte the encoding cannot
  decode becomes U+FFFD, and ingest quarantines the row that holds one (`undecodable_text`) rather than
  keep a value that is not what the file says.

Only the failure path reads a whole file in Python (to find the line of the first byte that is not
UTF-8); the common path checks the first MiB before the night and lets Polars validate the rest while it
converts the file.
"""

from __future__ import annotations

import codecs
import gzip
from dataclasses import dataclass
from pathlib import Path

from serosurv.core.errors import SerosurvError

AUTO = "auto"
HEAD_BYTES = 1 << 20  # what the check before the night reads of each file
CHUNK_BYTES = 1 << 22
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
UTF32_LE_BOM = codecs.BOM_UTF32_LE  # starts like UTF-16 LE's: not taken for UTF-16


@dataclass(frozen=True)
class Reading:
    """How a CSV file's bytes become text: `codec` (a Python codec name, "utf-8" read in place),
    `strict` (a byte that is not UTF-8 refuses the file: "auto") and `label` (the encoding as the
    quarantine reason names it). `transcode`: the file must be converted to UTF-8 first."""

    codec: str
    strict: bool
    label: str

    @property
    def transcode(self) -> bool:
        return self.codec != "utf-8"


def is_gzip(path: Path) -> bool:
    """Whether the file is gzip, recognised by its magic number, not its name."""
    with path.open("rb") as head:
        return head.read(2) == b"\x1f\x8b"


def open_bytes(path: Path):
    """The file's bytes, decompressed when it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def reading(path: Path, encoding: str) -> Reading:
    """How `path` is read under `[source] encoding`."""
    if encoding != AUTO:
        codec = codecs.lookup(encoding).name
        codec = "utf-8" if codec in ("utf-8", "utf-8-sig") else codec  # Polars reads a BOM itself
        return Reading(codec, strict=False, label=encoding)
    with open_bytes(path) as handle:
        start = handle.read(4)
    if start.startswith(UTF16_BOMS) and not start.startswith(UTF32_LE_BOM):
        return Reading("utf-16", strict=False, label="UTF-16")
    return Reading("utf-8", strict=True, label="UTF-8")


def not_utf8(path: Path, line: int) -> SerosurvError:
    return SerosurvError(
        f"{path}: the file is not UTF-8 (the first byte that is not is on line {line:,}); declare its "
        'encoding with [source] encoding = "latin-1" (or "cp1252", "utf-16") in the configuration file '
        "(--config)."
    )


def first_bad_utf8_line(path: Path, limit: int | None = None) -> int | None:
    """The 1-based line (the header is line 1) of the first byte of the file that is not UTF-8, among its
    first `limit` bytes (all without a limit); None when they are UTF-8. Read in chunks; a sequence cut
    by the end of a chunk (or of the limit) is not an error."""
    carry, lines, read, eol = b"", 0, 0, b""
    with open_bytes(path) as handle:
        while limit is None or read < limit:
            chunk = handle.read(CHUNK_BYTES if limit is None else min(CHUNK_BYTES, limit - read))
            if not chunk:
                break
            read += len(chunk)
            eol = eol or line_break(chunk)
            data, carry = carry + chunk, b""
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data":
                    return lines + data.count(eol or b"\n", 0, exc.start) + 1
                carry, data = data[exc.start :], data[: exc.start]  # completed by the next chunk
            lines += data.count(eol or b"\n")
    if carry and (limit is None or read < limit):  # the file ends inside a sequence
        return lines + 1
    return None


def line_break(start: bytes) -> bytes:
    """The byte that ends the file's lines, as ingest splits them: CR when the first line ends with a bare
    CR (old Mac exports), else LF (which ends CRLF lines too); empty while no line has ended."""
    cr, lf = start.find(b"\r"), start.find(b"\n")
    if cr != -1 and (lf == -1 or cr < lf) and start[cr + 1 : cr + 2] != b"\n":
        return b"\r"
    return b"\n" if lf != -1 else b""


def start_as_utf8(path: Path, codec: str) -> bytes:
    """The file's first MiB decoded as `codec` (bytes it cannot decode as U+FFFD, a sequence cut by the
    end left out), as UTF-8: what the file's header is read from."""
    with open_bytes(path) as handle:
        start = handle.read(HEAD_BYTES)
    return codecs.getincrementaldecoder(codec)(errors="replace").decode(start).encode("utf-8")


def transcode(path: Path, codec: str, target: Path) -> None:
    """Write `path` (gzip or not) decoded as `codec` to `target` as UTF-8, streaming; bytes the codec
    cannot decode become U+FFFD, which ingest quarantines."""
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    with open_bytes(path) as source, target.open("wb") as out:
        while chunk := source.read(CHUNK_BYTES):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
