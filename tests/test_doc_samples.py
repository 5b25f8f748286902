"""The docs' samples of the plugin's output are what it prints today.

A ```text block that follows a failing example (``<!-- docs-test: fails "..." -->``) is that
example's output: the example runs and the sample must appear in what pytest printed, line breaks
and indentation aside, ``...`` standing for any text. README.md's incident report is the
tutorial's. The terminal summary sample in the options reference is checked for its shape: its
header is the plugin's, word for word, and each row is laid out as the plugin lays it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from venue_harness import ALGO_STOPS

from pytest_exchange_chaos import report

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
FAILS = re.compile(r'<!--\s*docs-test:\s*fails\s+"[^"]+"\s*-->\s*\n$')


@dataclass(frozen=True)
class Sample:
    page: str
    line: int
    example: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _samples_of(page: Path, name: str) -> list[Sample]:
    text = page.read_text(encoding="utf-8")
    samples = []
    example: str | None = None
    example_end = 0
    for fence in FENCE.finditer(text):
        if fence["lang"] == "python":
            failing = FAILS.search(text[: fence.start()]) is not None
            example = (
                fence["body"] if failing and re.search(r"^(async )?def test_", fence["body"], re.M) else None
            )
            example_end = fence.end()
        elif fence["lang"] == "text" and example is not None:
            if re.search(r"^#", text[example_end : fence.start()], re.MULTILINE):
                example = None  # a new section: the sample is not that example's output
                continue
            samples.append(Sample(name, text.count("\n", 0, fence.start()) + 1, example, fence["body"]))
            example = None
    return samples


def doc_samples() -> list[Sample]:
    samples = []
    for page in sorted(DOCS.rglob("*.md")):
        samples += _samples_of(page, str(page.relative_to(DOCS)))
    return samples


SAMPLES = doc_samples()


# The samples are printed with the newest ccxt. Older ccxt (tox's `oldest` env) throttles and
# times its requests a little differently, so there the words must match and the numbers may not.
EXACT_NUMBERS = ALGO_STOPS


def _pattern(sample: str) -> re.Pattern[str]:
    flat = " ".join(sample.split())
    pieces = [re.escape(piece) for piece in flat.split("...")]
    if not EXACT_NUMBERS:
        pieces = [re.sub(r"\d+(?:\\\.\d+)?", r"[\\d.]+", piece) for piece in pieces]
    return re.compile(".*?".join(pieces), re.DOTALL)


def _flat_output(output: str) -> str:
    # pytest prefixes an assertion's message with "E"; the sample shows the message itself.
    lines = [re.sub(r"^E(\s|$)", "", line) for line in output.splitlines()]
    return " ".join(" ".join(lines).split())


def _run(chaos_pytester: pytest.Pytester, code: str) -> str:
    chaos_pytester.makeconftest((ROOT / "examples" / "conftest.py").read_text(encoding="utf-8"))
    chaos_pytester.syspathinsert(str(ROOT / "examples"))
    chaos_pytester.makepyfile(test_doc_sample=code)
    return chaos_pytester.runpytest("-p", "no:cacheprovider").stdout.str()


def test_the_docs_have_samples_of_failures() -> None:
    pages = {sample.page for sample in SAMPLES}
    assert {"tutorial.md", "howto/budgets.md", "howto/faults.md", "howto/invariants.md"} <= pages


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_the_sample_is_what_the_example_prints(chaos_pytester: pytest.Pytester, sample: Sample) -> None:
    if "/fapi/v1/algoOrder" in sample.example + sample.text and not ALGO_STOPS:
        pytest.skip("a sample about POST /fapi/v1/algoOrder, which this ccxt does not send stops to")
    output = _run(chaos_pytester, sample.example)
    flat = _flat_output(output)
    if not _pattern(sample.text).search(flat):
        # Name the first line of the sample that the output lacks: the rest is noise.
        lines = [line for line in sample.text.splitlines() if line.strip()]
        first = next(
            (n for n in range(1, len(lines) + 1) if not _pattern("\n".join(lines[:n])).search(flat)), 1
        )
        pytest.fail(
            f"{sample.id}: the sample is not what the plugin prints today; from its line "
            f"{lines[first - 1]!r} on it differs. Printed:\n{output}",
            pytrace=False,
        )


def test_the_readmes_incident_report_is_the_tutorials() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (tutorial,) = [s for s in SAMPLES if s.page == "tutorial.md" and "binance_502_day" in s.example]
    readme_samples = [m["body"] for m in FENCE.finditer(readme) if m["lang"] == "text"]
    assert readme_samples, "README.md has no sample of the incident report any more: update this test"
    for body in readme_samples:
        assert _pattern(body.replace("\n...\n", "\n")).search(" ".join(tutorial.text.split())), body


def _summary_block() -> list[str]:
    text = (DOCS / "reference" / "options.md").read_text(encoding="utf-8")
    start = text.index("## The terminal summary")
    fence = FENCE.search(text, start)
    assert fence is not None and fence["lang"] == "text"
    return fence["body"].splitlines()


def test_the_terminal_summary_sample_has_the_plugins_shape() -> None:
    lines = _summary_block()
    header = report.summary_header()
    assert header in lines, f"options.md's summary sample does not have the table header:\n{header}"
    assert lines[lines.index(header) - 1] == "operations by intent:"
    rows = []
    for line in lines[lines.index(header) + 1 :]:
        if not line.startswith("  "):
            break
        rows.append(line)
    assert rows
    for row in rows:
        intent, *cells = row.split()
        # Durations such as "0.6 s" are two words: put them back together, then lay the row out.
        merged: list[str] = []
        for cell in cells:
            if cell == "s" and merged:
                merged[-1] += " s"
            else:
                merged.append(cell)
        assert report.summary_row([intent, *merged]) == row, row
    assert re.fullmatch(
        r"\d+ chaos tests?: \d+ requests, \d+ faults injected, \d+ refused by the exchange", lines[1]
    )
    assert re.fullmatch(r"repeat with --chaos-seed=\d+", next(x for x in lines if x.startswith("repeat")))


def _profile_section(name: str) -> str:
    import inspect

    from pytest_exchange_chaos import profiles

    factory = profiles.PROFILES[name]
    params = []
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind == parameter.KEYWORD_ONLY and "*" not in params:
            params.append("*")
        params.append(f"{parameter.name}={parameter.default!r}")
    doc = inspect.cleandoc(factory.__doc__ or "").replace("``", "`")
    waves = "\n".join(repr(wave) for wave in factory())
    return (
        f"## `{name}`\n\n```python\nprofiles.{name}({', '.join(params)})\n```\n\n{doc}\n\n"
        f"With its defaults:\n\n```text\n{waves}\n```\n"
    )


def test_the_profiles_reference_quotes_each_profile_as_it_is() -> None:
    from pytest_exchange_chaos import profiles

    text = (DOCS / "reference" / "profiles.md").read_text(encoding="utf-8")
    for name in profiles.PROFILES:
        section = _profile_section(name)
        assert section in text, f"docs/reference/profiles.md's {name} section should read:\n{section}"
