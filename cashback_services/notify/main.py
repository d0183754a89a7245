"""cashback-notify console script."""

from pathlib import Path

from cashback_kit.app import run_main
from cashback_services.notify.bootstrap import bootstrap

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    run_main("notify", bootstrap, MIGRATIONS)


if __name__ == "__main__":
    main()
