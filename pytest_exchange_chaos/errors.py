"""The plugin's own errors, for what a bot must never be able to retry its way past."""

from __future__ import annotations

__all__ = ["UnservedRequestError"]

GUARD_HELP = "see docs/howto/clients.md#the-guard"


class UnservedRequestError(BaseException):
    """A chaos test sent a request that no simulated venue serves.

    It derives from BaseException, as ``pytest.fail`` does, so a bot's ``except Exception``
    retry loop cannot swallow it and turn a test bug into an apparent outage; the plugin also
    fails the test afterwards in case something caught it anyway.
    """

    def __init__(self, description: str) -> None:
        super().__init__(
            f"exchange-chaos refused {description}: no simulated venue serves this host, and chaos "
            f"tests never reach the network. Serve it with a venue of your own "
            f"(pytest_exchange_chaos_venues hook), mock it yourself, or allow it; {GUARD_HELP}"
        )
