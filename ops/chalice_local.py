"""``chalice local`` with Nagle's algorithm switched off on its connections.

Chalice's dev server writes a response's headers and body in separate small writes on a keep-alive
(HTTP/1.1) connection; with Nagle's algorithm on, the body then waits for the client's delayed ACK,
about 40 ms on Linux, on every request of a client that reuses its connection (``requests.Session``,
the UI, load generators). Measured here: 52 ms for a 404 on a kept-alive connection against 9 ms on
a fresh one. Setting ``disable_nagle_algorithm`` (a :class:`socketserver.StreamRequestHandler` switch)
on Chalice's request handler removes the wait; everything else is the unchanged Chalice CLI, so
``python -m ops.chalice_local local --stage local ...`` takes exactly ``chalice local``'s arguments.
API Gateway in AWS has no such delay.

Every request method reaches the app, not only the seven the dev server knows (it answers ``TRACE``,
``QUERY``, ... 501 with an HTML page otherwise): a method a path does not have is then
``405 method_not_allowed`` with ``Allow``, in the API's error shape.
"""

import sys

from chalice import local
from chalice.cli import main

local.ChaliceRequestHandler.disable_nagle_algorithm = True


def _any_method(handler: local.ChaliceRequestHandler, name: str):
    """``do_<METHOD>`` for the methods the handler does not define (``BaseHTTPRequestHandler`` looks them up)."""
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


local.ChaliceRequestHandler.__getattr__ = _any_method

if __name__ == "__main__":
    sys.exit(main())
