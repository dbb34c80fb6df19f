"""A fault proxy on loopback: TCP between the API and PostgreSQL, with delays and cut connections.

It runs its own asyncio loop in a thread, so the suite's clients and the proxy never wait on each
other. Every chunk read from either side is held `delay_seconds` before it is passed on (a slow
network); `cut()` aborts every open connection on both sides at once (a dropped link or a failover),
wherever the conversation was: in a query, in a COMMIT, between transactions. New connections are
accepted and relayed again at once; while the upstream refuses (PostgreSQL down), a new connection
is closed straight away, as a refused connection would be.
"""
from __future__ import annotations

import asyncio
import threading

chunk_bytes_max = 64 * 1024


class FaultProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream_port, self.host = upstream_port, host
        self.delay_seconds = 0.0
        self.port = 0
        self.connections_relayed = 0
        self.connections_cut = 0
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def cut(self) -> int:
        """Abort every open connection; returns how many were cut."""
        future = asyncio.run_coroutine_threadsafe(self._cut(), self._loop)
        return future.result(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._relay, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for downstream, upstream in list(self._pairs):
            downstream.transport.abort()
            upstream.transport.abort()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _cut(self) -> int:
        pairs = list(self._pairs)
        for downstream, upstream in pairs:
            downstream.transport.abort()
            upstream.transport.abort()
        self.connections_cut += len(pairs)
        return len(pairs)

    async def _relay(self, down_reader: asyncio.StreamReader, down_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            down_writer.transport.abort()
            return
        pair = (down_writer, up_writer)
        self._pairs.add(pair)
        self.connections_relayed += 1
        try:
            await asyncio.gather(self._pipe(down_reader, up_writer), self._pipe(up_reader, down_writer))
        finally:
            self._pairs.discard(pair)
            down_writer.transport.abort()
            up_writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(chunk_bytes_max):
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended: end the other, so neither waits on a half-open conversation.
            writer.transport.abort()
