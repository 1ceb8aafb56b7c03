"""Runs tests/fuzz/cases_linear.py until the shared fuzz runner lands (issue #15, point 6).

Each case must raise its exception with a message matching its regex (the argument's name
and the fix), or emit its warning and return a result its check accepts. And every public
name of curvlab.linear and curvlab.dropout must have at least one case.
"""

import importlib.util
import inspect
import pathlib
import re
import warnings

import pytest

import curvlab.dropout as D
import curvlab.linear as L

_PATH = pathlib.Path(__file__).resolve().parents[1] / "fuzz" / "cases_linear.py"
_spec = importlib.util.spec_from_file_location("curvlab_fuzz_cases_linear", _PATH)
cases_linear = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases_linear)
CASES = cases_linear.CASES


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}#{i}" for i, c in enumerate(CASES)])
def test_case(case):
    if case.warns is not None:
        with pytest.warns(case.warns):
            result = case.call()
        assert case.check is None or case.check(result)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(case.raises) as info:
            case.call()
    if case.match:
        assert re.search(case.match, str(info.value)), str(info.value)


@pytest.mark.parametrize("pkg", [L, D], ids=["linear", "dropout"])
def test_every_public_name_has_cases(pkg):
    covered = {c.target for c in CASES}
    for name in pkg.__all__:
        full = f"{pkg.__name__}.{name}"
        if full in cases_linear.NOT_ENTRY_POINTS:
            continue
        assert any(t == full or t.startswith(full + ".") for t in covered), f"no fuzz case for {full}"
        obj = getattr(pkg, name)
        if inspect.isclass(obj) and hasattr(obj, "fit"):
            for method in ("fit", "predict"):
                assert f"{full}.{method}" in covered, f"no fuzz case for {full}.{method}"
