"""The code examples in docs/ run as shown."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_rules_md_custom_rule_example_runs(capsys):
    text = (DOCS / "rules.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    exec(compile(code, "rules.md", "exec"), {})
    out = capsys.readouterr().out
    values = eval(out.strip())
    assert values[0] < values[1] < values[2]  # imitation spreads
