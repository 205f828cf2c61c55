"""The portal door (server-rendered pages)."""
