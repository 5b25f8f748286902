"""The documentation's examples run: every ```python block of docs/ that defines a test passes.

A block preceded by ``<!-- docs-test: fails "text" -->`` is an example of a failing test: it must
fail, with ``text`` in its report. Blocks without a test function are fragments and are not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from venue_harness import ALGO_STOPS

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r'(?:<!--\s*docs-test:\s*fails\s+"(?P<fails>[^"]+)"\s*-->\s*\n)?^```python\n(?P<code>.*?)^```',
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class DocExample:
    page: str
    line: int
    code: str
    fails_with: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def doc_examples() -> list[DocExample]:
    examples = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for found in BLOCK.finditer(text):
            if re.search(r"^(async )?def test_", found["code"], re.MULTILINE):
                line = text.count("\n", 0, found.start("code"))
                examples.append(DocExample(str(page.relative_to(DOCS)), line, found["code"], found["fails"]))
    return examples


EXAMPLES = doc_examples()


def test_the_docs_have_examples_on_every_guide() -> None:
    pages = {example.page for example in EXAMPLES}
    assert {"tutorial.md", "howto/faults.md", "howto/budgets.md", "howto/invariants.md"} <= pages


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_the_example_runs(chaos_pytester: pytest.Pytester, example: DocExample) -> None:
    if "/fapi/v1/algoOrder" in example.code + (example.fails_with or "") and not ALGO_STOPS:
        pytest.skip("an example about POST /fapi/v1/algoOrder, which this ccxt does not send stops to")
    # The fixtures the examples use are the ones a user copies: examples/conftest.py.
    chaos_pytester.makeconftest((ROOT / "examples" / "conftest.py").read_text(encoding="utf-8"))
    chaos_pytester.syspathinsert(str(ROOT / "examples"))
    chaos_pytester.makepyfile(test_doc_example=example.code)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    if example.fails_with is None:
        assert result.ret == 0, f"{example.id} did not pass:\n{result.stdout.str()}"
    else:
        assert outcomes.get("failed", 0) >= 1 and "passed" not in outcomes, result.stdout.str()
        assert example.fails_with in result.stdout.str()
