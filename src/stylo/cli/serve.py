"""``stylo serve``: the studio (:mod:`stylo.web`) on uvicorn, on this machine only unless a token guards it."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stylo.errors import StyloError


def add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="the studio: a web page to stylize, watch and browse runs")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", metavar="DIR", help="runs and images (default ~/.local/share/stylo)")
    serve.add_argument("--token", help="required for every request; needed to listen beyond this machine")
    serve.add_argument("--max-memory", metavar="SIZE", help="memory budget of the server's runs, e.g. 8G "
                                                           "(default 30 %% of RAM); bounds the sizes offered")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "stylo"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.token:
        raise StyloError(f"refusing to listen on {args.host} without --token: anyone who can reach it could use it")
    try:
        import uvicorn

        from stylo.web.app import create_app
    except ImportError:
        raise StyloError("the studio needs its extras: pip install 'stylo[web]'") from None
    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StyloError(f"cannot use data directory {data}: {exc.strerror}") from None
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise StyloError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    url = f"http://{args.host}:{args.port}/" + (f"?token={quote(args.token, safe='')}" if args.token else "")
    print(f"stylo studio: {url}  (data in {data}; Ctrl-C stops)", file=sys.stderr, flush=True)
    from stylo.device import resolve_device
    from stylo.plan import memory_budget
    from stylo.web.state import Limits

    memory_budget(args.max_memory, resolve_device("auto"))  # a bad --max-memory is refused before the server starts
    app = create_app(data, token=args.token, host=args.host, limits=Limits(max_memory=args.max_memory))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
