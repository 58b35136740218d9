"""`python -m automation` and the `scraper-ops` console script."""

import sys

from automation.cli import main


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
