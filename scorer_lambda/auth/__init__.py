"""Authentication: partner API keys and JWTs (scoring contract §4)."""
