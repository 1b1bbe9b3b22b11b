"""Faults for tests: a TCP proxy that can be cut (a database or Slack going away) and that can drop the next
N connections without an answer (a connection reset, as far as the client can tell); a database outage on
either backend (`database_outage`)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import Engine, make_url


class TcpProxy:
    """127.0.0.1:<port> → (host, port). `cut()` closes every connection and refuses new ones until
    `restore()`; `drop_next(n)` accepts and immediately closes the next n connections."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._cut = False
        self._drop = 0
        self.dropped = 0
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def drop_next(self, n: int = 1) -> None:
        with self._lock:
            self._drop += n

    def close(self) -> None:
        self.cut()
        with suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._cut or self._drop > 0
                if self._drop > 0 and not self._cut:
                    self._drop -= 1
                    self.dropped += 1
            if refuse:
                if not self._cut:  # a dropped connection: let the request arrive, then close unanswered
                    with suppress(OSError):
                        client.recv(65536)
                with suppress(OSError):
                    client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class SqliteOutage:
    """The disk holding a SQLite database goes away: `cut(engine)` moves the database's folder aside, so no
    connection can open the file ("unable to open database file"), and drops `engine`'s pooled connections
    (the ones a lost disk would break; an open file handle would otherwise keep working). `restore()` puts
    the folder back; new connections then open the same file."""

    def __init__(self, url: str) -> None:
        database = make_url(url).database
        if not database or database == ":memory:":
            raise ValueError("a SQLite outage needs a database file")
        self.url = url
        self.folder = Path(database).resolve().parent
        self.aside = self.folder.with_name(self.folder.name + ".gone")

    def cut(self, engine: Engine) -> None:
        self.folder.rename(self.aside)
        engine.dispose()

    def restore(self) -> None:
        if self.aside.exists():
            self.aside.rename(self.folder)

    def close(self) -> None:
        self.restore()


class PostgresOutage:
    """A network cut between the bot and its PostgreSQL server: the bot connects through a `TcpProxy`
    (`url`); `cut(engine)` closes every connection and refuses new ones until `restore()`."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        self.url = parsed.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)

    def cut(self, engine: Engine) -> None:  # noqa: ARG002 - the pool finds out by itself (pool_pre_ping)
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.close()


@contextmanager
def database_outage(url: str) -> Iterator[SqliteOutage | PostgresOutage]:
    """The outage that fits the backend of `url`. Connect the bot to `outage.url`, then `cut(engine)` and
    `restore()`; everything is restored on exit."""
    outage = SqliteOutage(url) if make_url(url).get_backend_name() == "sqlite" else PostgresOutage(url)
    try:
        yield outage
    finally:
        outage.close()
