"""`lvstui genhash`: print the MD5 digest of a URL's body, like keepalived's genhash.

lvstui genhash -s 192.168.10.85 -p 80 -u /test_vie.php
lvstui genhash -S -s 192.168.10.85 -p 443 -u /test_vie.php -V www.example.org
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--server", required=True, help="real server address")
    parser.add_argument("-p", "--port", required=True, type=int, help="real server port")
    parser.add_argument("-u", "--url", required=True, help="path to fetch, e.g. /health")
    parser.add_argument("-S", "--use-ssl", action="store_true", help="HTTPS (SSL_GET)")
    parser.add_argument(
        "-V",
        "--use-virtualhost",
        metavar="VIRTUALHOST",
        help="Host header (and TLS SNI) to send, like the service's virtualhost",
    )
    parser.add_argument(
        "-I",
        "--use-sni",
        action="store_true",
        help="accepted for keepalived compatibility: SNI is always the virtualhost's name",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="dump headers and body")
    parser.add_argument(
        "-t", "--timeout", type=float, default=5.0, help="seconds for each fetch (default 5)"
    )
    parser.add_argument(
        "-L",
        "--legacy-format",
        action="store_true",
        help="print `MD5SUM = <hex>` (keepalived 1.x form) instead of the bare digest",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="fetch once (default: twice, warning when the page is dynamic)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from lvstui.health.genhash import GenhashRequest, run_genhash

    if not 0 < args.port < 65536:
        print(f"lvstui genhash: port {args.port} out of range 1-65535", file=sys.stderr)
        return 2
    req = GenhashRequest(
        server=args.server.strip("[]"),
        port=args.port,
        url=args.url,
        tls=args.use_ssl,
        virtualhost=args.use_virtualhost,
        timeout=args.timeout,
        verbose=args.verbose,
        legacy=args.legacy_format,
        fetches=1 if args.once else 2,
    )
    return run_genhash(req, sys.stdout, sys.stderr)
