"""`make bench`: every benchmark under bench/, one after the other (arguments go to each)."""

from __future__ import annotations

import sys

from bench import ingest_bench


def main() -> None:
    ingest_bench.main(sys.argv[1:])


if __name__ == "__main__":
    main()
