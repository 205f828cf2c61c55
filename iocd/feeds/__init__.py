"""Partner feeds (MISP, TAXII, blocklists)."""
