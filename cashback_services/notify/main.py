"""cashback-notify console script."""

import os
from functools import partial
from pathlib import Path

from cashback_kit.app import run_main
from cashback_services.notify.config import NotifySettings
from cashback_services.notify.entrypoints.bootstrap import bootstrap

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> None:
    # Notify's own settings (Kavenegar, SMS routes, SMTP auth, retries), read once here.
    run_main("notify", partial(bootstrap, ns=NotifySettings.from_env(os.environ)), MIGRATIONS)


if __name__ == "__main__":
    main()
