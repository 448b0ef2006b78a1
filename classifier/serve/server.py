"""`classifier serve`: check the models and the port, then run the app on uvicorn until SIGTERM.

    serve(ServeSettings({"default": "saved_models/default"}), host="127.0.0.1", port=8000)

Everything a user can get wrong is checked here first, each a one-line UserError (exit 2): a
folder that is not a bundle, a model the engine cannot run, a port in use. SIGTERM (or Ctrl-C)
stops accepting connections, lets the requests in flight finish (GRACE_SECONDS at most), and
returns: the command exits 0.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import tempfile

import uvicorn

from classifier.bundle import Bundle, load
from classifier.errors import UserError, slot
from classifier.serve.app import create_app
from classifier.serve.prometheus import MULTIPROC_ENV
from classifier.serve.settings import SETTINGS_ENV, ServeSettings

GRACE_SECONDS = 30  # the longest a request in flight may keep a stopping server up
APP_FACTORY = "classifier.serve.app:create_app_from_env"


def check_models(settings: ServeSettings) -> dict[str, Bundle]:
    """Each bundle loaded (its files hash-checked) and made ready to score."""
    bundles = {}
    for name, folder in settings.models.items():
        bundle = load(folder)
        bundle.prepare()
        bundles[name] = bundle
    return bundles


def check_port(host: str, port: int) -> None:
    """Bind the address as uvicorn will (SO_REUSEADDR), so a port in use is a one-line error, not a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UserError(f"{slot('host')} {host}: not an address of this machine ({e.strerror})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            hint = e.strerror
            if e.errno == errno.EADDRINUSE:
                hint = f"the port is in use (another server?); stop it or pick another {slot('port')}"
            raise UserError(f"cannot listen on {host}:{port}: {hint}") from None


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          access_log: bool = False) -> None:
    """`access_log`: a line per request; off by default, as TF Serving's is, since at thousands of
    requests a second the line costs the server more CPU than scoring a review (/metrics counts them)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    bundles = check_models(settings)
    check_port(host, port)
    options = dict(host=host, port=port, timeout_graceful_shutdown=GRACE_SECONDS, log_level="info",
                   access_log=access_log)
    # uvicorn turns the first SIGTERM or Ctrl-C into a graceful shutdown; it then raises the signal
    # again with the CLI's handler, and swallows the KeyboardInterrupt that makes: the command ends 0
    if workers == 1:
        uvicorn.run(create_app(settings, preloaded=bundles), **options)
        return
    # each worker process builds its own app from these (and loads the models itself)
    metrics_dir = tempfile.mkdtemp(prefix="classifier-serve-metrics-")
    os.environ[SETTINGS_ENV] = settings.to_json()
    os.environ[MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
