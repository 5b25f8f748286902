"""The exchanges the plugin ships: a fresh project's test runs with nothing but `pip install`.

Every inner run here has no conftest: only the plugin's own fixtures, real ccxt, and the
simulated venues behind them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_exchange_chaos.fixtures import OLDEST_CCXT, ccxt_too_old

ASYNC_ORDER = """
import pytest

opened = []

@pytest.mark.asyncio{loop_scope}
async def test_an_entry_and_its_stop(chaos_{venue}):
    opened.append(chaos_{venue})
    await chaos_{venue}.load_markets()
    await chaos_{venue}.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    positions = await chaos_{venue}.fetch_positions(["BTC/USDT:USDT"])
    assert [(p["symbol"], p["contracts"]) for p in positions if p["contracts"]] == [("BTC/USDT:USDT", 0.01)]

def test_the_exchange_was_closed_on_the_tests_loop():
    assert opened[0].session is None
"""

SYNC_ORDER = """
def test_an_entry(chaos_{venue}_sync, exchange_chaos):
    chaos_{venue}_sync.load_markets()
    chaos_{venue}_sync.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert [p.symbol for p in exchange_chaos.venue("{venue}").positions()] == ["BTC/USDT:USDT"]
    assert chaos_{venue}_sync.apiKey
"""

UNRUN_ASYNC_TEST = """
async def test_an_entry(chaos_binanceusdm):
    await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
"""


@pytest.mark.parametrize("venue", ["binanceusdm", "bybit"])
def test_an_async_exchange_places_an_order_and_closes_itself(
    chaos_pytester: pytest.Pytester, venue: str
) -> None:
    chaos_pytester.makepyfile(ASYNC_ORDER.format(venue=venue, loop_scope=""))
    # filterwarnings = error: an aiohttp session left open would fail the run.
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_an_exchange_on_a_module_scoped_loop_is_closed_at_its_teardown(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(ASYNC_ORDER.format(venue="binanceusdm", loop_scope='(loop_scope="module")'))
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_async_exchange_runs_in_auto_mode_without_a_marker(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        ASYNC_ORDER.format(venue="bybit", loop_scope="").replace("@pytest.mark.asyncio", "")
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("venue", ["binanceusdm", "bybit"])
def test_a_sync_twin_places_an_order(chaos_pytester: pytest.Pytester, venue: str) -> None:
    # No async plugin: a sync bot's suite needs none.
    chaos_pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    chaos_pytester.makepyfile(SYNC_ORDER.format(venue=venue))
    result = chaos_pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=1)


def test_an_async_chaos_test_no_plugin_runs_says_which_to_install(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    chaos_pytester.makepyfile(UNRUN_ASYNC_TEST)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(failed=1)
    assert (
        "test_an_entry is an async def chaos test, but no async plugin ran it, so nothing was tested: "
        'install pytest-asyncio (pip install "pytest-exchange-chaos[ccxt]" pytest-asyncio), then '
        "add @pytest.mark.asyncio to the test or set asyncio_mode = auto in your pytest ini"
    ) in result.stdout.str()
    result.stdout.no_fnmatch_line("*not natively supported*")


def test_an_unmarked_async_chaos_test_in_strict_mode_says_to_mark_it(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(UNRUN_ASYNC_TEST)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider", "-o", "asyncio_mode=strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-asyncio is installed but runs only marked tests in its strict mode: add @pytest.mark.asyncio*"
        ]
    )


def test_without_ccxt_the_fixture_says_what_to_install(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import sys
        import pytest

        @pytest.fixture(autouse=True)
        def no_ccxt(monkeypatch):
            for name in ("ccxt", "ccxt.async_support"):
                monkeypatch.setitem(sys.modules, name, None)

        def test_an_entry(chaos_binanceusdm_sync):
            pass
        """
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    assert result.parseoutcomes()["errors"] >= 1
    assert (
        "the chaos_binanceusdm_sync fixture needs ccxt (ccxt), which cannot be imported here "
        '(import of ccxt halted; None in sys.modules); install it with: pip install "pytest-exchange-chaos[ccxt]"'
    ) in result.stdout.str()
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_the_plugin_and_its_fixtures_load_without_importing_ccxt() -> None:
    code = (
        "import sys, pytest_exchange_chaos.plugin, pytest_exchange_chaos.fixtures; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ccxt', 'aiohttp', 'pytest_asyncio')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_the_fixtures_are_listed_with_their_docs(chaos_pytester: pytest.Pytester) -> None:
    result = chaos_pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "chaos_binanceusdm -- *",
            "*Async ccxt ``binanceusdm``*",
            "chaos_bybit -- *",
            "chaos_binanceusdm_sync -- *",
            "chaos_bybit_sync -- *",
        ],
        consecutive=False,
    )


README = Path(__file__).parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_readmes_first_chaos_test_runs_in_a_fresh_project(chaos_pytester: pytest.Pytester) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Your first chaos test") :]
    chaos_pytester.makepyfile(test_first=PYTHON_BLOCK.search(section)["code"])  # type: ignore[index]
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_readmes_snippets_paste_ready_for_pytest_asyncio() -> None:
    text = README.read_text(encoding="utf-8")
    assert 'pip install "pytest-exchange-chaos[ccxt]" pytest-asyncio' in text
    for block in PYTHON_BLOCK.finditer(text):
        for test in re.finditer(r"^async def (test_\w+)", block["code"], re.MULTILINE):
            before = block["code"][: test.start()]
            assert "@pytest.mark.asyncio" in before, (
                f"{test[1]} in README.md is not marked for pytest-asyncio"
            )


def test_a_chaos_test_under_a_ccxt_older_than_supported_fails_saying_which(
    chaos_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ccxt

    monkeypatch.setattr(ccxt, "__version__", "4.1.100")
    chaos_pytester.makepyfile(
        """
        import pytest

        def test_a_chaos_test(exchange_chaos):
            pass

        def test_an_ordinary_test():
            pass
        """
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    # Failed at setup, before the chaos starts: an error, as a missing fixture is.
    result.assert_outcomes(passed=1, errors=1)
    oldest = ".".join(map(str, OLDEST_CCXT))
    assert (
        f"ccxt 4.1.100 is older than the oldest ccxt pytest-exchange-chaos supports ({oldest}, "
        "tested in its CI): older ccxt sends requests and reads answers the simulated venues are not "
        f'tested against, so its chaos tests would prove little. Upgrade with: pip install "ccxt>={oldest}"'
    ) in result.stdout.str()


def test_the_extras_pin_and_the_oldest_tox_env_name_the_oldest_supported_ccxt() -> None:
    root = Path(__file__).parents[1]
    oldest = ".".join(map(str, OLDEST_CCXT))
    assert f'"ccxt>={oldest}"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert f"ccxt=={oldest}\n" in (root / "tox.ini").read_text(encoding="utf-8")
    assert f"ccxt {oldest}" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("version", "supported"),
    [("4.1.100", False), ("4.4.95", False), ("4.4.96", True), ("4.5.90", True), ("5.0.0", True), ("", True)],
)
def test_which_ccxt_versions_are_supported(version: str, supported: bool) -> None:
    assert (ccxt_too_old(version) is None) is supported
