"""cashback-console: the merchants' ops web console. It talks gRPC to rules, wallet
and notify with the signed-in user's own ops key; it has no key of its own."""
