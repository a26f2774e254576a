"""The .ts reader on small hand-written files and on the four real UCR/UEA data sets; the CBF generator."""
import re
from pathlib import Path

import numpy
import pytest

from nnlite.datasets import cylinder_bell_funnel, load_ts, load_ucr

UCR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucr"


def write(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_univariate_with_comments_and_case_insensitive_keys(tmp_path):
    path = write(tmp_path, "# a comment\n#another: 1,2\n@ProblemName demo\n@TIMESTAMPS false\n@missing false\n"
                           "@univariate TRUE\n@equalLength true\n@seriesLength 3\n@classLabel true 1 2\n\n@DATA\n"
                           "0.5,-1,2e-1:2\n# a comment among the data\n3,4,5:1\n\n")
    X, y, classes = load_ts(path)
    assert X.dtype == numpy.float32 and X.shape == (2, 1, 3)
    numpy.testing.assert_array_equal(X[:, 0], numpy.array([[0.5, -1, 0.2], [3, 4, 5]], numpy.float32))
    assert y.dtype == numpy.int64 and y.tolist() == [1, 0]
    assert classes == ["1", "2"]


def test_multivariate_string_labels_sorted_and_missing_values(tmp_path):
    path = write(tmp_path, "@problemName m\n@univariate false\n@dimensions 2\n@classLabel true Walk Run Bike\n@data\n"
                           "1,2,3,4:5,6,?,8:Walk\n?,0,0,0:1,1,1,1:Bike\n9,9,9,9:8,8,8,8:Run\n")
    X, y, classes = load_ts(str(path))
    assert X.shape == (3, 2, 4)
    assert classes == ["Bike", "Run", "Walk"]          # sorted, not declared order
    assert y.tolist() == [2, 0, 1]
    assert numpy.isnan(X[0, 1, 2]) and numpy.isnan(X[1, 0, 0]) and numpy.isnan(X).sum() == 2
    numpy.testing.assert_array_equal(X[2], [[9, 9, 9, 9], [8, 8, 8, 8]])


def test_numeric_labels_sort_numerically_and_undeclared_labels_come_from_data(tmp_path):
    X, y, classes = load_ts(write(tmp_path, "@classLabel true 10 2 1\n@data\n1:10\n2:2\n3:1\n"))
    assert classes == ["1", "2", "10"] and y.tolist() == [2, 1, 0]
    X, y, classes = load_ts(write(tmp_path, "@problemName u\n@data\n1,2:b\n3,4:a\n5,6:b\n"))
    assert X.shape == (3, 1, 2) and classes == ["a", "b"] and y.tolist() == [1, 0, 1]


def test_no_class_labels(tmp_path):
    X, y, classes = load_ts(write(tmp_path, "@classLabel false\n@dimensions 2\n@data\n1,2:3,4\n"))
    assert X.tolist() == [[[1, 2], [3, 4]]] and y is None and classes == []


def test_empty_data_section(tmp_path):
    X, y, classes = load_ts(write(tmp_path, "@dimensions 3\n@seriesLength 7\n@classLabel true a b\n@data\n"))
    assert X.shape == (0, 3, 7) and y.shape == (0,) and classes == ["a", "b"]


@pytest.mark.parametrize("text, line, words", [
    ("@dimensions 2\n@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n", 5, "expected 2 channel(s), found 1"),
    ("@classLabel true a b\n@data\n1,2,3:a\n1,2,x:b\n", 4, "'x' is not a number"),
    ("@classLabel true a b\n@data\n1,2:a\n\n1,2:c\n", 5, "'c' is not declared"),
    ("@classLabel true a b\n1,2:a\n@data\n", 2, "data line before @data"),
    ("# only a comment\n@classLabel true a b\n", 2, "without an @data line"),
    ("@seriesLength 3\n@data\n1,2,3:a\n1,2:a\n", 4, "unequal length"),
    ("@data\n1,2,3:4,5,6:a\n1,2,3:4,5:a\n", 3, "unequal length"),
    ("@equalLength false\n@data\n1,2:a\n", 2, "unequal-length series are not supported"),
    ("@missing maybe\n@data\n", 1, "expects true or false"),
    ("@seriesLength ten\n@data\n", 1, "positive integer"),
    ("@data\n1,2\n", 2, "missing class label"),
    ("@data\n1,2:a\n@classLabel true a\n", 3, "header line '@classLabel' after @data"),
    ("@data\n1,,2:a\n", 2, "'' is not a number"),
])
def test_malformed_input_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(f"{path}, line {line}: ") + ".*" + re.escape(words)):
        load_ts(path)


def test_load_ucr_shares_one_class_mapping(tmp_path):
    d = tmp_path / "Toy"
    d.mkdir()
    write(d, "@data\n1,2:b\n3,4:c\n", "Toy_TRAIN.ts")
    write(d, "@data\n5,6:a\n7,8:c\n", "Toy_TEST.ts")
    Xtr, ytr, Xte, yte, classes = load_ucr(d)
    assert classes == ["a", "b", "c"] and ytr.tolist() == [1, 2] and yte.tolist() == [0, 2]
    numpy.testing.assert_array_equal(Xte[:, 0], [[5, 6], [7, 8]])
    assert load_ucr(str(d), name="Toy")[4] == classes


def test_many_lines_parse_exactly(tmp_path):
    rng = numpy.random.default_rng(0)
    X0 = rng.standard_normal((400, 3, 50)).astype(numpy.float32)
    lines = [":".join(",".join(map(repr, ch.tolist())) for ch in s) + f":{i % 5}" for i, s in enumerate(X0)]
    X, y, classes = load_ts(write(tmp_path, "@dimensions 3\n@data\n" + "\n".join(lines) + "\n"))
    numpy.testing.assert_array_equal(X, X0)
    assert classes == ["0", "1", "2", "3", "4"] and y.tolist() == [i % 5 for i in range(400)]


UCR_TABLE = {  # /work/shared/data/README.md
    "GunPoint": (50, 150, 150, 1, ["1", "2"]),
    "ItalyPowerDemand": (67, 1029, 24, 1, ["1", "2"]),
    "ArrowHead": (36, 175, 251, 1, ["0", "1", "2"]),
    "BasicMotions": (40, 40, 100, 6, ["Badminton", "Running", "Standing", "Walking"]),
}


@pytest.mark.parametrize("name", sorted(UCR_TABLE))
def test_real_ucr_data_sets(name):
    if not (UCR / name).is_dir():
        pytest.skip(f"{UCR / name} is not present")
    n_train, n_test, length, channels, classes = UCR_TABLE[name]
    Xtr, ytr, Xte, yte, got = load_ucr(UCR / name)
    assert Xtr.shape == (n_train, channels, length) and Xte.shape == (n_test, channels, length)
    assert Xtr.dtype == numpy.float32 and ytr.dtype == numpy.int64
    assert got == classes
    assert sorted(set(ytr.tolist())) == list(range(len(classes))) == sorted(set(yte.tolist()))
    assert not numpy.isnan(Xtr).any() and not numpy.isnan(Xte).any()
    # the archive z-normalises each series (of each channel, for univariate sets)
    if channels == 1:
        numpy.testing.assert_allclose(Xtr.mean(-1), 0, atol=1e-3)
        numpy.testing.assert_allclose(Xtr.std(-1), 1, atol=5e-2)   # some sets used ddof=1


def test_real_gunpoint_first_values_and_labels():
    path = UCR / "GunPoint" / "GunPoint_TRAIN.ts"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    X, y, classes = load_ts(path)
    first = [line for line in path.read_text().splitlines() if line and line[0] not in "#@"][0]
    values, label = first.rsplit(":", 1)
    numpy.testing.assert_array_equal(X[0, 0], numpy.array(values.split(","), dtype=numpy.float32))
    assert classes[y[0]] == label


def test_cylinder_bell_funnel_shapes_and_classes():
    X, y = cylinder_bell_funnel(90, length=128, seed=0)
    assert X.shape == (90, 1, 128) and X.dtype == numpy.float32 and y.dtype == numpy.int64
    assert numpy.bincount(y).tolist() == [30, 30, 30]
    numpy.testing.assert_allclose(X.mean(-1), 0, atol=1e-5)
    numpy.testing.assert_allclose(X.std(-1), 1, atol=1e-4)
    X2, y2 = cylinder_bell_funnel(90, length=128, seed=0)
    numpy.testing.assert_array_equal(X, X2)
    numpy.testing.assert_array_equal(y, y2)
    assert not numpy.array_equal(X, cylinder_bell_funnel(90, seed=1)[0])
    assert cylinder_bell_funnel(4, length=256)[0].shape == (4, 1, 256)


def test_cylinder_bell_funnel_shapes_follow_saito():
    # Averaging many noisy series leaves each class's template: a plateau, a ramp up, a ramp down.
    X, y = cylinder_bell_funnel(3000, seed=2)
    mean = numpy.stack([X[y == k, 0].mean(0) for k in range(3)])
    t1, t2 = 33, 47   # a <= 32 and b >= 48: inside [a, b] for every series
    cyl, bell, funnel = mean
    assert abs(cyl[t1] - cyl[t2]) < 0.1 and cyl[t1] > 0.8
    assert bell[t2] - bell[t1] > 0.3 and funnel[t1] - funnel[t2] > 0.3
    assert funnel[t1] > 1.0 and bell[t1] < funnel[t1]
    assert all(m[:10].mean() < -0.3 for m in mean)     # before a: the noise floor, below the mean
