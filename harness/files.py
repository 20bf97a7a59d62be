"""Every file the harness reads or writes, hostile-input-proof.

Reading: regular files only (a FIFO or a device is refused before it is
opened, so nothing blocks and nothing is read without end), of at most a
bound of bytes that the caller names. Writing: never through a symbolic link.
A file the harness rewrites (a report) goes to a new file beside it that then
replaces the old one, so a link planted there is refused, never followed; a
file it creates (``app init -o``) must not exist, not even as a dangling link;
a file it appends to (journal, heal ledger) is opened without following links.
Every refusal is ``error`` naming the path and what is wrong.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from harness.errors import UsageError

KiB, MiB, GiB = 1024, 1024 ** 2, 1024 ** 3
MAX_LINE_BYTES = 1 * MiB  # a JSON line the harness wrote is a few hundred bytes
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_NO_LINKS = getattr(os, "O_NOFOLLOW", 0)
_FILE_MODE = 0o666  # less the umask, as open() makes files


def read_bytes(path: Path, what: str, error: type[Exception], limit: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``), or ``error`` naming it and what is wrong."""
    with open_regular(path, what, error, limit) as file:
        data = file.read(limit + 1) or b""  # None if it became a FIFO since the check
    check_size(len(data), path, what, error, limit)
    return data


def open_regular(path: Path, what: str, error: type[Exception], limit: int) -> BinaryIO:
    """``path`` open for reading in binary; it is a regular file of at most ``limit`` bytes, checked before it
    is opened (opening a device can do things) and again on the open file (it may have been swapped)."""
    try:
        check_regular(os.stat(path), path, what, error, limit)
        descriptor = os.open(path, _READ)
    except (OSError, ValueError) as problem:  # ValueError: a path with a NUL byte
        raise error(f"{path}: cannot read the {what}: {why(problem)}") from None
    try:
        check_regular(os.fstat(descriptor), path, what, error, limit)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def bounded_lines(file: BinaryIO, path: Path, what: str, error: type[Exception], limit: int) -> Iterator[bytes]:
    """The lines of ``file``, each at most ``MAX_LINE_BYTES`` (a longer one is cut there and yielded without its
    newline, as a damaged line), and ``error`` once more than ``limit`` bytes were read (the file grew)."""
    read = 0
    while line := file.readline(MAX_LINE_BYTES):
        read += len(line)
        check_size(read, path, what, error, limit)
        yield line


def check_regular(status: os.stat_result, path: Path, what: str, error: type[Exception], limit: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise error(f"{path}: the {what} must be a regular file, not {file_kind(status.st_mode)}")
    check_size(status.st_size, path, what, error, limit)


def check_size(size: int, path: Path, what: str, error: type[Exception], limit: int) -> None:
    if size > limit:
        raise error(f"{path}: the {what} is larger than {shown_size(limit)}, more than the harness ever reads there")


def shown_size(size: int) -> str:
    unit, name = next((u, n) for u, n in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB"), (1, "bytes")) if size >= u)
    return f"{size / unit:g} {name}"


def file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a named pipe (FIFO)", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket", stat.S_ISLNK: "a symbolic link"}
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def why(problem: BaseException) -> str:
    """An OSError's own words (``No such file or directory``), or the error's text."""
    return getattr(problem, "strerror", None) or str(problem) or type(problem).__name__


def write_text(path: Path, text: str, error: type[Exception] = UsageError) -> Path:
    """``text`` written as the regular file ``path``, replacing the one there, never writing through a link:
    a link (or any other non-file) at ``path`` is refused, and the text goes to a new file beside it first."""
    _refuse_non_file(path, error)
    temporary = path.with_name(f".{secrets.token_hex(6)}.tmp")
    try:
        _write_new(temporary, text)
        os.replace(temporary, path)  # replaces whatever is at path now; follows no link
    except (OSError, ValueError) as problem:
        _remove_quietly(temporary)
        raise error(f"{path} cannot be written ({why(problem)}){_missing_directory(path)}") from None
    return path


def create_text(path: Path, text: str, error: type[Exception] = UsageError) -> Path:
    """``text`` written into a new file ``path``; ``error`` when anything is there already, a dangling link too."""
    try:
        _write_new(path, text)
    except FileExistsError:
        kind = "" if path.is_file() and not path.is_symlink() else f" as {file_kind(os.lstat(path).st_mode)}"
        raise error(f"{path} exists{kind}; remove it or choose another path") from None
    except (OSError, ValueError) as problem:
        raise error(f"{path} cannot be written ({why(problem)}){_missing_directory(path)}") from None
    return path


def open_append(path: Path, error: type[Exception] = UsageError, readable: bool = False) -> BinaryIO:
    """``path`` open for appending in binary (and reading, when ``readable``), created if missing; a link or
    anything but a regular file there is refused."""
    flags = (os.O_RDWR if readable else os.O_WRONLY) | os.O_APPEND | os.O_CREAT | _NO_LINKS | os.O_NONBLOCK
    try:
        descriptor = os.open(path, flags, _FILE_MODE)
    except (OSError, ValueError) as problem:
        raise error(f"{path} cannot be written ({_what_is_there(path) or why(problem)})") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise error(f"{path} cannot be written: it is {file_kind(status.st_mode)}, not a regular file")
    return os.fdopen(descriptor, "a+b" if readable else "ab")


def _write_new(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_LINKS, _FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except BaseException:
        _remove_quietly(path)
        raise


def _refuse_non_file(path: Path, error: type[Exception]) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as problem:
        raise error(f"{path} cannot be written ({why(problem)}){_missing_directory(path)}") from None
    if not stat.S_ISREG(mode):
        target = f" to {os.readlink(path)[:200]}" if stat.S_ISLNK(mode) else ""
        raise error(f"{path} cannot be written: it is {file_kind(mode)}{target}, and the harness writes only "
                    "regular files (never through a link); remove it or write elsewhere")


def _what_is_there(path: Path) -> str | None:
    """Why what is at ``path`` cannot be appended to, when it is a link or no regular file."""
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(mode):
        return "it is a symbolic link, and the harness never writes through one"
    return None if stat.S_ISREG(mode) else f"it is {file_kind(mode)}, not a regular file"


def _missing_directory(path: Path) -> str:
    try:
        return "" if path.parent.is_dir() else f"; the directory {path.parent} does not exist"
    except (OSError, ValueError):
        return ""


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except (OSError, ValueError):
        pass
