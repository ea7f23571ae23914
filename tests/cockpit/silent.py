"""A TCP proxy in front of the API that can make the event streams through it die silently:
their connections stay open but carry nothing more, with no FIN and no reset, as when the API's
host is gone or a NAT dropped the connection's state. Every other connection goes on, and so
does a stream opened afterwards."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

STREAM_PATH = b"/events?"  # the request line of the park's event stream (GET .../events?...)


@dataclass
class _Link:
    client: socket.socket
    upstream: socket.socket
    stream: bool = False
    silent: bool = False


@dataclass
class SilentProxy:
    target_port: int
    port: int = 0
    links: list[_Link] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)
    _server: socket.socket | None = None
    _acceptor: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SilentProxy:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)  # closing a socket does not wake a blocked accept()
        self.port = self._server.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        return self

    def silence_streams(self) -> int:
        """From now on the open event streams carry nothing either way; how many there were."""
        with self.lock:
            streams = [link for link in self.links if link.stream]
            for link in streams:
                link.silent = True
        return len(streams)

    def stop(self) -> None:
        """Stop accepting, then close every socket this proxy opened (none is left to the
        garbage collector, whose warnings would land in another test)."""
        self.stopped.set()
        if self._acceptor is not None:
            self._acceptor.join(5)
        if self._server is not None:
            self._server.close()
        with self.lock:
            for link in self.links:
                for sock in (link.client, link.upstream):
                    sock.close()

    def _accept(self) -> None:
        assert self._server is not None
        while not self.stopped.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:  # the API is away: the client sees its connection closed
                client.close()
                continue
            client.settimeout(None)
            link = _Link(client, upstream)
            with self.lock:
                if self.stopped.is_set():
                    client.close()
                    upstream.close()
                    return
                self.links.append(link)
            threading.Thread(target=self._pump, args=(link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, False), daemon=True).start()

    def _pump(self, link: _Link, outbound: bool) -> None:
        """Copy one direction; a silenced link's bytes are read and dropped (the sender sees
        nothing wrong, the receiver gets nothing)."""
        source, sink = (link.client, link.upstream) if outbound else (link.upstream, link.client)
        try:
            while chunk := source.recv(65536):
                if outbound and STREAM_PATH in chunk.split(b"\r\n", 1)[0]:
                    link.stream = True
                if not link.silent:
                    sink.sendall(chunk)
        except OSError:
            pass
        finally:
            if not link.silent:  # a silenced link is never closed: that is the point
                for sock in (source, sink):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
