"""moto_server for the test run, with requests handled one at a time.

Usage: python infra/moto/serve.py PARENT_PID HOST PORT

Why not plain `moto_server`: it serves each request on its own thread and its DynamoDB backend
checks a ConditionExpression and then writes without a lock, so two conditional UpdateItem calls
on one item can both succeed (seen in CI: 2 of 50 concurrent claimers won). DynamoDB itself
applies conditional writes atomically per item, which Herald's claims rely on. A lock around the
whole WSGI application restores that guarantee (more strictly: one request at a time); moto
answers in well under a millisecond, so the test run does not notice.

Before serving, it asks Linux to SIGTERM it when PARENT_PID (tests/run) dies, and exits if that
already happened, so even a SIGKILLed tests/run leaves no server behind.
"""

import ctypes
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # moto builds the whole response inside the call; materialise it under the lock
            # all the same, so no backend work can run after the lock is released.
            return list(app(environ, start_response))

    return handle


def main() -> None:
    parent, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit("tests/run exited before moto_server started")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
