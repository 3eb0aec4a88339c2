"""Writing files atomically: the target is either the old file or the complete new one, never a partial file.

:func:`atomic_write` (a function taking a writer) and :func:`atomic_path` (a context manager
yielding a temporary path) write to a temporary file in the target's folder, flush it to disk
with ``fsync``, and move it over the target with :func:`os.replace`, which is atomic on POSIX
and Windows when both paths are on the same file system (hence the same folder). If anything
fails on the way, the temporary file is removed and the target is left as it was.

The temporary file is named ``.<random>.tmp-<target name>`` so it is hidden and keeps the
target's suffixes: writers that pick a format from the file name (``Figure.savefig``,
``DataFrame.to_parquet``) see the same suffix as the target's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from deepmarkets.errors import DeclarationError

__all__ = ["atomic_write", "atomic_path", "read_toml_spec"]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; folders cannot be opened on Windows.
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a clean exit it replaces ``path`` atomically.

    Write the whole file to the yielded path inside the ``with`` block. When the block
    finishes without an exception, the temporary file is flushed to disk (``fsync``) and
    moved over ``path`` with :func:`os.replace`. When the block raises, the temporary file
    is removed, ``path`` is left untouched and the exception propagates unchanged.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Its folder must exist.

    Yields
    ------
    pathlib.Path
        An empty, already created temporary file in the same folder, named
        ``.<random>.tmp-<name>`` (hidden, same suffixes as ``path``).

    Raises
    ------
    DeclarationError
        If the folder of ``path`` does not exist or ``path`` is a folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise DeclarationError(
            f"cannot write {str(target)!r}: the folder {str(folder)!r} does not exist; create it first"
        )
    if target.is_dir():
        raise DeclarationError(f"cannot write {str(target)!r}: it is a folder; give a file name inside it")
    # O_EXCL guarantees a fresh file; mode 0o666 lets the umask decide permissions like open() does.
    for _ in range(100):
        tmp = folder / f".{secrets.token_hex(6)}.tmp-{target.name}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        break
    else:  # pragma: no cover - 100 collisions of 48 random bits
        raise DeclarationError(f"cannot create a temporary file next to {str(target)!r}")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp)`` on a temporary path, then move the result over ``path`` atomically.

    ``writer`` receives a :class:`pathlib.Path` to an empty file in the same folder as
    ``path`` and must write the complete content there (opening it by name, as
    ``DataFrame.to_csv(tmp)`` or ``fig.savefig(tmp)`` do). If ``writer`` raises, the
    temporary file is removed, an existing ``path`` is left exactly as it was, and the
    exception propagates unchanged. Otherwise the file is flushed to disk (``fsync``) and
    renamed over ``path`` with :func:`os.replace`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. Its folder must exist.
    writer : callable
        ``writer(tmp_path)``; its return value is ignored.

    Returns
    -------
    pathlib.Path
        ``path`` as a :class:`pathlib.Path`.

    Raises
    ------
    DeclarationError
        If the folder of ``path`` does not exist or ``path`` is a folder.

    See Also
    --------
    atomic_path : the same as a context manager.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> atomic_write(target, lambda tmp: tmp.write_text("a,b\\n1,2\\n")).name
    'table.csv'
    >>> def broken(tmp):
    ...     tmp.write_text("half a fi")
    ...     raise RuntimeError("disk full")
    >>> try:
    ...     atomic_write(target, broken)
    ... except RuntimeError:
    ...     pass
    >>> target.read_text()    # the old content survives
    'a,b\\n1,2\\n'
    >>> sorted(p.name for p in target.parent.iterdir())    # and no temporary file is left
    ['table.csv']
    """
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def read_toml_spec[T](path: str | os.PathLike[str], build: Callable[[Mapping[str, Any]], T]) -> T:
    """``build`` applied to a TOML file read as data; every error names the file.

    Raises
    ------
    DeclarationError
        For a missing file, a file that is not UTF-8 TOML, or whatever ``build`` refuses,
        prefixed with the path.
    """
    import tomllib

    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeclarationError(f"{path}: no such spec file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DeclarationError(f"{path}: not valid TOML ({err})") from None
    try:
        return build(spec)
    except DeclarationError as err:
        raise DeclarationError(f"{path}: {err}") from None
