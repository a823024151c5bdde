"""``stylo serve``: the studio on uvicorn, on this machine only unless a token guards it."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from urllib.parse import quote

from stylo.errors import StyloError


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
    from stylo.budget import budget_bytes
    from stylo.web.state import Limits

    budget_bytes(args.max_memory)  # a bad --max-memory is refused before the server starts
    app = create_app(data, token=args.token, host=args.host, limits=Limits(max_memory=args.max_memory))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
