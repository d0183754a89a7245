from cashback_kit.migrations_env import run

run()
