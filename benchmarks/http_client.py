"""A lean HTTP/1.1 keep-alive client for load benchmarks: one asyncio stream per connection.

httpx costs about as much CPU per request as the servers being measured; on a shared 2-core machine
the load generator then caps both figures and the ratio between them means little. This client does
only what the benchmarks need: a request with a small body, and a response with Content-Length or
chunked transfer encoding. Both endpoints of a comparison are measured through it in the same run.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

response_head_bytes_max = 64 * 1024


class Http11Error(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; `request` is not for concurrent use (one in flight at a time)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.fixed_headers = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{self.host}:{self.port}", **(headers or {})}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=response_head_bytes_max)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path, None)

    async def post_json(self, path: str, value: object) -> tuple[int, bytes]:
        return await self.request("POST", path, json.dumps(value).encode())

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed_headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        try:
            return await self._response()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            await self.close()
            raise Http11Error(f"{type(exc).__name__}: {exc}") from exc

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(chunk[:-2] for chunk in chunks)
        else:
            raise Http11Error(f"response without Content-Length or chunked encoding: {headers}")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body
