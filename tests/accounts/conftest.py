from tests.stream.conftest import market  # noqa: F401 - the live market, for these tests too
