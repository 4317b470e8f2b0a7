"""Run the daemon: bind the unix socket and the TCP port, serve one app on both, and run
the services' background work, until SIGTERM or SIGINT.

Only one daemon runs per ``LOOPSY_HOME``: the pid file is held with an exclusive lock for
the daemon's life, so a second start fails at once instead of fighting over the socket.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
import uvicorn
from anyio.abc import TaskStatus

from loopsy.daemon.app import Tagged, create_app
from loopsy.daemon.services import Services, create_services
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import ConfigError, LoopsyError

log = logging.getLogger("loopsy.daemon")

LOOPBACK = "127.0.0.1"


class AlreadyRunning(LoopsyError):
    pass


@dataclass(frozen=True)
class ServeOptions:
    port: int | None = None  # None: config's server.port; 0: any free port
    lan: bool = False


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (we run two of them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def pid_lock(home: LoopsyHome) -> Iterator[IO[str]]:
    home.ensure()
    fd = os.open(home.pid_file, os.O_RDWR | os.O_CREAT, 0o600)
    f = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = f.read().strip() or "?"
            raise AlreadyRunning(
                f"a daemon is already running for {home.root} (pid {other})",
                hint="`loopsy status` shows it; `loopsy stop` stops it",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield f
    finally:
        with contextlib.suppress(OSError):
            f.seek(0)
            f.truncate()
        f.close()


def bind_unix(path: Path) -> socket.socket:
    if path.exists() or path.is_symlink():
        path.unlink()  # stale: we hold the pid lock, so no live daemon owns it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # with proto 0 every keep-alive response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use by another program",
                hint="choose another with `loopsy start --port N` or server.port in config.yaml",
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(512)
    sock.setblocking(False)
    return sock


def configure_logging(home: LoopsyHome, foreground: bool) -> None:
    handlers: list[logging.Handler] = [logging.FileHandler(home.daemon_log, encoding="utf-8")]
    if foreground and sys.stderr.isatty():
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    os.chmod(home.daemon_log, 0o600)


def run_daemon(home: LoopsyHome, options: ServeOptions, *, foreground: bool = False) -> None:
    """Serve until a signal; raise :class:`LoopsyError` if the daemon cannot start."""
    home.check_socket_path()
    with pid_lock(home):
        configure_logging(home, foreground)
        services = create_services(home)
        try:
            anyio.run(serve, services, options, backend_options=_backend_options())
        finally:
            services.close()
            with contextlib.suppress(FileNotFoundError):
                home.socket.unlink()
            log.info("daemon stopped")


def _backend_options() -> dict[str, object]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


async def serve(
    services: Services,
    options: ServeOptions,
    *,
    handle_signals: bool = True,
    task_status: TaskStatus[Services] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until SIGTERM/SIGINT (or cancellation, when ``handle_signals`` is False, as in
    tests that run the daemon in-process). ``task_status`` reports once both sockets listen.
    """
    config = services.config.current
    host = "0.0.0.0" if options.lan else config.server.host  # noqa: S104 (opt-in --lan)
    port = config.server.port if options.port is None else options.port
    tcp = bind_tcp(host, port)
    unix = bind_unix(services.home.socket)
    bound_port = tcp.getsockname()[1]
    services.listening.tcp_host = host
    services.listening.tcp_port = bound_port
    services.listening.unix_path = str(services.home.socket)
    services.listening.lan = host not in (LOOPBACK, "localhost", "::1")
    mesh = _bind_mesh(services, options)

    try:
        await _serve_on(services, tcp, unix, handle_signals, task_status, mesh)
    finally:
        tcp.close()
        unix.close()
        if mesh is not None:
            mesh.close()


def _bind_mesh(services: Services, options: ServeOptions) -> socket.socket | None:
    """The peer TLS listener, with --lan or mesh.listen; its health checks and mDNS."""
    mesh_config = services.config.current.mesh
    if services.mesh is None or not (options.lan or mesh_config.listen):
        return None
    try:
        sock = bind_tcp(mesh_config.host, mesh_config.port)
    except ConfigError as exc:
        raise ConfigError(
            f"peer listener (mesh.port): {exc.message}",
            hint="set mesh.port (and mesh.host) in config.yaml; 0 picks any free port",
        ) from None
    services.mesh.host = mesh_config.host
    services.mesh.port = sock.getsockname()[1]
    services.background.extend(services.mesh.background(advertise=options.lan))
    return sock


async def _serve_on(
    services: Services,
    tcp: socket.socket,
    unix: socket.socket,
    handle_signals: bool,
    task_status: TaskStatus[Services],
    mesh: socket.socket | None = None,
) -> None:
    app = create_app(services)
    servers = [
        _make_server(Tagged(app, "unix"), unix),
        _make_server(Tagged(app, "tcp"), tcp),
    ]
    if mesh is not None and services.mesh is not None:
        cert = services.mesh.certificate
        servers.append(
            _make_server(Tagged(app, "mesh"), mesh, tls=(cert.cert_file, cert.key_file))
        )
    log.info(
        "daemon %s listening on %s:%s and %s",
        os.getpid(),
        services.listening.tcp_host,
        services.listening.tcp_port,
        services.home.socket,
    )
    async with anyio.create_task_group() as tg:
        for component in services.background:
            tg.start_soon(component.run)
        async with anyio.create_task_group() as serving:
            for server, sock in servers:
                serving.start_soon(server.serve, [sock])
            if handle_signals:
                serving.start_soon(_stop_on_signal, [server for server, _ in servers])
            with anyio.fail_after(30):
                # uvicorn offers only a flag, no event, for "listening"
                while not all(server.started for server, _ in servers):  # noqa: ASYNC110
                    await anyio.sleep(0.005)
            task_status.started(services)
        tg.cancel_scope.cancel()


async def _stop_on_signal(servers: list[_Server]) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("signal %s: shutting down", signal.Signals(signum).name)
            break
    for server in servers:
        server.should_exit = True


def _make_server(
    app: Tagged, sock: socket.socket, tls: tuple[Path, Path] | None = None
) -> tuple[_Server, socket.socket]:
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws_max_size=16 << 20,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return _Server(config), sock
