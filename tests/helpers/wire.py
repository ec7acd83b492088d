"""A byte-counting TCP relay on 127.0.0.1, put between a client and a local server to measure what
crosses the wire (request and answer bytes, headers included, every connection).

    with WireCounter("127.0.0.1", 8080) as wire:
        run_client(endpoint=wire.endpoint)
    wire.received, wire.sent, wire.connections

``received`` counts bytes from the server to the client (what the client downloaded), ``sent`` bytes
from the client to the server. Used by the signature tests and benchmark to show that an update
transfers far less than the repository's size.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class WireCounter:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Bytes from the server to the client.
        self.received = 0
        #: Bytes from the client to the server.
        self.sent = 0
        self.connections = 0

    @property
    def endpoint(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.received = self.sent = self.connections = 0

    def __enter__(self) -> WireCounter:
        thread = threading.Thread(target=self._accept, name="wire-counter", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
            for source, target, upstream in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=self._pump, args=(source, target, upstream), daemon=True)
                thread.start()

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        try:
            while True:
                chunk = source.recv(1 << 16)
                if not chunk:
                    break
                with self._lock:
                    if upstream:
                        self.sent += len(chunk)
                    else:
                        self.received += len(chunk)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            # half-close so the other direction can finish; a closed peer ends its pump too
            for end in (target, source):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            source.close()
            target.close()
