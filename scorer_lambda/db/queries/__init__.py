"""SQL, one module per aggregate; every function runs its statements on the given connection."""
