"""Group labels of new data with another type than in fitting (issue 8, item 6)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import hierreg_formula as hierreg
from hierreg_formula.formula import Grouping, build_design
from hierreg_formula.formula.labels import label_kind, match_labels


def fitted(labels):
    n = len(labels)
    df = pd.DataFrame({"y": np.linspace(0.0, 1.0, n) ** 2, "x": np.arange(n, dtype=float)})
    df["g"] = labels
    return build_design("y ~ x + (1 | g)", df)


def codes(blocks, new):
    nb = blocks.spec.rebuild(pd.DataFrame({"x": np.zeros(len(new)), "g": new}))
    return nb.random[0].codes.tolist(), nb.unseen


INTS = [1, 2, 3] * 2


@pytest.mark.parametrize(
    "fit_labels,new,expected,unseen",
    [
        (INTS, ["3", "1", "7"], [2, 0, -1], {"g": ["7"]}),  # int levels, string labels
        (["1", "2", "3"] * 2, [3, 1, 7], [2, 0, -1], {"g": [7]}),  # string levels, ints
        (["1", "2", "3"] * 2, [3.0, 1.0], [2, 0], {}),  # a whole float is written as an int
        (INTS, [3.0, 2.5], [2, -1], {"g": [2.5]}),  # numbers compare numerically
        ([1.0, 2.0, 3.0] * 2, [3, 1], [2, 0], {}),
        (INTS, np.array([3, 1], dtype=np.int8), [2, 0], {}),  # numpy integer widths
        (INTS, np.array([3, 1], dtype=np.uint32), [2, 0], {}),
        (INTS, pd.Categorical([3, 9]), [2, -1], {"g": [9]}),  # categorical vs plain
        (INTS, pd.Categorical(["3", "9"]), [2, -1], {"g": ["9"]}),
        (pd.Categorical(list("abc") * 2), ["c", "q"], [2, -1], {"g": ["q"]}),
        (pd.Categorical(list("abc") * 2, categories=list("cba")), ["c", "a"], [0, 2], {}),
        (list("abc") * 2, pd.Categorical(["c", "a"]), [2, 0], {}),
        (pd.array(INTS, dtype="Int64"), [3, 1], [2, 0], {}),  # nullable integers
        (INTS, ["03", "3"], [-1, 2], {"g": ["03"]}),  # '03' is not a lossless form of 3
    ],
)
def test_labels_matched_across_types(fit_labels, new, expected, unseen):
    b = fitted(fit_labels)
    assert codes(b, new) == (expected, unseen)


@pytest.mark.parametrize(
    "fit_labels,new,fitted_dtype,new_dtype",
    [
        (INTS, ["x", "y"], "int64", r"str|object"),
        (list("abc") * 2, [1, 2], r"str|object", "int64"),
        ([True, False] * 3, [1, 0], "bool", "int64"),
        (INTS, ["3.0"], "int64", r"str|object"),
        (INTS, pd.to_datetime(["2020-01-01"]), "int64", r"datetime64\[.*\]"),
    ],
)
def test_labels_of_another_type_none_matching_raise(fit_labels, new, fitted_dtype, new_dtype):
    b = fitted(fit_labels)
    with pytest.raises(hierreg.DataError, match="grouping column 'g': none of the new labels") as e:
        codes(b, new)
    assert re.search(
        f"dtype ({new_dtype}) .* in the new data, dtype ({fitted_dtype}) ", str(e.value)
    )


def test_unseen_labels_of_the_right_type_stay_unseen():
    b = fitted(list("abc") * 2)
    assert codes(b, ["zz", "yy"]) == ([-1, -1], {"g": ["zz", "yy"]})
    b = fitted(INTS)
    assert codes(b, [99]) == ([-1], {"g": [99]})


def test_sleepstudy_subjects_as_numbers():
    df = hierreg.load_dataset("sleepstudy")
    b = build_design("Reaction ~ Days + (Days | Subject)", df)
    nb = b.spec.rebuild(pd.DataFrame({"Days": [1, 2, 3], "Subject": [308, 372.0, 999]}))
    assert nb.random[0].codes.tolist() == [0, 17, -1]
    with pytest.raises(hierreg.DataError, match=r"dtype bool"):
        b.spec.rebuild(pd.DataFrame({"Days": [1], "Subject": [True]}))


def test_datetime_groupings():
    days = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"] * 2)
    b = fitted(days)
    assert list(b.random[0].levels) == list(
        pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"])
    )
    assert b.random[0].codes.tolist() == [0, 1, 2, 0, 1, 2]
    # another resolution, and an ISO date string pandas parses exactly
    assert codes(b, pd.to_datetime(["2020-01-03"]).as_unit("s")) == ([2], {})
    assert codes(b, ["2020-01-02"]) == ([1], {})
    # a time zone is another type: no label matches
    with pytest.raises(hierreg.DataError, match=r"datetime \(UTC\) labels"):
        codes(b, pd.to_datetime(["2020-01-02"]).tz_localize("UTC"))


def test_mixed_type_object_column():
    b = fitted(pd.Series(["a", 1, "b", 1, "a", "b"], dtype=object))
    levels = list(b.random[0].levels)
    assert sorted(map(str, levels)) == ["1", "a", "b"]
    pos = {str(v): i for i, v in enumerate(levels)}
    assert codes(b, pd.Series([1, "1", "b", "c"], dtype=object)) == (
        [pos["1"], pos["1"], pos["b"], -1],
        {"g": ["c"]},
    )


def test_ambiguous_text_is_not_matched():
    # 1 and '1' are two levels: the text '1' cannot pick one of them
    levels = pd.Index([1, "1", "a"], dtype=object)
    assert match_labels(levels, pd.Series([1.0, "a"], dtype=object), "g").tolist() == [0, 2]


def test_missing_labels_get_minus_one_in_grouping_codes():
    # (rebuild raises before: tests/formula/test_data_columns.py); the sklearn path relies on -1
    g = Grouping.fit(pd.DataFrame({"g": ["a", "b"]}), ("g",))
    assert g.codes(pd.DataFrame({"g": ["b", None, np.nan]})).tolist() == [1, -1, -1]


def test_interaction_grouping_matches_each_column():
    df = pd.DataFrame(
        {"y": np.arange(8.0) ** 2, "x": np.arange(8.0), "a": list("uuvvuuvv"), "b": [1, 2] * 4}
    )
    b = build_design("y ~ x + (1 | a:b)", df)
    nb = b.spec.rebuild(pd.DataFrame({"x": [0.0, 0.0], "a": ["v", "u"], "b": ["2", 2.0]}))
    assert nb.random[0].codes.tolist() == [3, 1]
    with pytest.raises(hierreg.DataError, match="grouping column 'a'"):
        b.spec.rebuild(pd.DataFrame({"x": [0.0], "a": [1], "b": [2]}))


@pytest.mark.parametrize(
    "values,kind",
    [
        (pd.Series([1, 2]), "number"),
        (pd.Series([1.5, np.nan]), "number"),
        (pd.Series(["a", None]), "string"),
        (pd.Series([True, False]), "bool"),
        (pd.Series(pd.to_datetime(["2020-01-01"]).tz_localize("UTC")), "datetime (UTC)"),
        (pd.Series(["a", 1], dtype=object), "mixed"),
        (pd.Series(pd.Categorical(["a"])), "string"),
        (pd.Series([None, None], dtype=object), "empty"),
    ],
)
def test_label_kinds(values, kind):
    assert label_kind(values) == kind
