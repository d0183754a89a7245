"""The wallet's domain: plain Python, no gRPC, no SQL."""
