"""One module per area of the portal; each defines `router`. See iocd.web for how they join."""
