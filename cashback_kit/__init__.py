"""The shared kit every cashback service imports: money, errors, config, database,
logging, auth and the gRPC server start-up. Nothing here connects at import time."""
