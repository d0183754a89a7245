"""cashback-rules console script."""

import os
from functools import partial
from pathlib import Path

from cashback_kit.app import run_main
from cashback_services.rules.bootstrap import bootstrap
from cashback_services.rules.limits import RulesLimits

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    run_main("rules", partial(bootstrap, limits=RulesLimits.from_env(os.environ)), MIGRATIONS)


if __name__ == "__main__":
    main()
