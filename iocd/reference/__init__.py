"""Reference data adapters: things known to be benign (MISP warninglists)."""
