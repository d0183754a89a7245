"""cashback-rules console script."""

from pathlib import Path

from cashback_kit.app import run_main
from cashback_services.rules.bootstrap import bootstrap

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    run_main("rules", bootstrap, MIGRATIONS)


if __name__ == "__main__":
    main()
