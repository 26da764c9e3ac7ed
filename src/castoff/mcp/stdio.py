"""stdio without a thread hop per message: the pipes read and written by asyncio.

The SDK's stdio transport wraps stdin and stdout in ``anyio.wrap_file``, which
sends every ``readline``, ``write`` and ``flush`` through ``anyio.to_thread``:
three thread round trips per message, about half a millisecond of server CPU
per call (a ``ping`` took 1.06 ms, 0.61 ms without them; ``plan_task`` 2.7 ms,
1.7 ms without). When stdin and stdout are pipes or sockets — as they are when
an MCP client spawns the server — :func:`pipe_streams` hands the SDK's
``stdio_server(stdin=, stdout=)`` streams read and written by the event loop
itself (``connect_read_pipe`` / ``connect_write_pipe``). Otherwise (a file, a
TTY, stdout shared with stderr, a non-asyncio event loop) it yields ``None``
and the SDK's own transport is used.

Like the SDK's transport, it moves the wire off descriptors 0 and 1 while
serving: fd 0 reads ``/dev/null`` and fd 1 writes to stderr, so a stray
``print`` or a child process cannot corrupt the JSON-RPC stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

CHUNK = 1 << 16


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def usable() -> bool:
    """True when stdin and stdout are pipes (or sockets) of their own on asyncio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio)
        return False
    return _is_pipe(0) and _is_pipe(1) and not _same_file(1, 2)


class PipeLines:
    """The lines of a pipe, as ``str``, read by the event loop (no line length limit)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._transport: asyncio.ReadTransport | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=CHUNK)
        pipe = os.fdopen(self._fd, "rb", buffering=0)
        self._transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        pending = bytearray()
        while chunk := await reader.read(CHUNK):
            if b"\n" not in chunk:
                pending += chunk
                continue
            pending += chunk
            last = pending.rfind(b"\n")
            complete, pending = bytes(pending[:last]), pending[last + 1 :]
            for line in complete.split(b"\n"):
                yield line.decode("utf-8", "replace")
        if pending:
            yield pending.decode("utf-8", "replace")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class PipeWriter:
    """A pipe written by the event loop; ``flush`` waits while the reader lags behind."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> asyncio.StreamWriter:
        if self._writer is None:
            loop = asyncio.get_running_loop()
            pipe = os.fdopen(self._fd, "wb", buffering=0)
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, pipe
            )
            self._writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return self._writer

    async def write(self, text: str) -> None:
        (await self._open()).write(text.encode("utf-8"))

    async def flush(self) -> None:
        await (await self._open()).drain()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@asynccontextmanager
async def pipe_streams() -> AsyncIterator[tuple[Any, Any] | None]:
    """``(stdin, stdout)`` for ``stdio_server``, or ``None`` to use the SDK's transport."""
    if not usable():
        yield None
        return
    wire_in = os.dup(0)
    wire_out = os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    reader, writer = PipeLines(wire_in), PipeWriter(wire_out)
    try:
        yield reader, writer
    finally:
        with contextlib.suppress(Exception):
            await writer.flush()
        writer.close()
        reader.close()
        for saved, fd in ((saved_in, 0), (saved_out, 1)):
            with contextlib.suppress(OSError):
                os.set_blocking(saved, True)  # the loop made the wire non-blocking
                os.dup2(saved, fd)
            os.close(saved)
