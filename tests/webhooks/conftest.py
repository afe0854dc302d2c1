# The end-to-end harness (live gateway, MTN simulator, real worker) for the flood tests.
from tests.e2e.conftest import gateway  # noqa: F401
