"""The HTTP door: FastAPI app built by create_app(settings)."""
