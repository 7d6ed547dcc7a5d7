"""Build or check the frozen task splits (``tasks/<domain>/{train,test,ood}.jsonl``).

    python -m mentor_env.tasks build [--domains calc units] [--out tasks]
    python -m mentor_env.tasks check

``check`` exits non-zero when a committed file differs from what the
generators build (see :mod:`mentor_env.core.splits`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from mentor_env.core.domain import Domain
from mentor_env.core.splits import check_splits, tasks_dir, write_splits
from mentor_env.domains import DOMAINS, get_domain


def _domains(names: list[str] | None) -> Iterator[Domain]:
    for name in names or list(DOMAINS):
        yield get_domain(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or check the frozen task splits.")
    parser.add_argument("command", choices=("build", "check"))
    parser.add_argument("--domains", nargs="*", help="domain names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="tasks folder (default: the repository's tasks/)")
    args = parser.parse_args(argv)
    out_dir = args.out or tasks_dir()
    failed = False
    for domain in _domains(args.domains):
        if args.command == "build":
            written = write_splits(domain, out_dir)
            print(f"{domain.name}: wrote {', '.join(str(path) for path in written.values())}")
        else:
            stale = check_splits(domain, out_dir)
            failed |= bool(stale)
            print(f"{domain.name}: {'differs: ' + ', '.join(stale) if stale else 'matches the generator'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
