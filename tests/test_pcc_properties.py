"""Properties of Pearson correlation that pcc_block must keep, on hypothesis-generated data."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference_pcc import reference_constant, reference_pcc

from deeptgi_rt.pcc import pcc_block

TOLERANCE = 1e-5
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def expression(draw, min_genes=1, max_genes=12, cells=None):
    """float64 ``[genes, cells]`` of small counts (like scRNA-seq), often with constant genes."""
    genes = draw(st.integers(min_genes, max_genes))
    cells = cells if cells is not None else draw(st.integers(2, 24))
    counts = draw(arrays(np.int64, (genes, cells), elements=st.integers(0, 20)))
    return counts.astype(np.float64)


@st.composite
def row_and_col_expression(draw):
    cells = draw(st.integers(2, 24))
    return draw(expression(cells=cells)), draw(expression(cells=cells))


@PROPERTY_SETTINGS
@given(row_and_col_expression())
def test_equals_reference(pair):
    rows, cols = pair
    np.testing.assert_allclose(pcc_block(rows, cols, backend="cpu"), reference_pcc(rows, cols), rtol=0, atol=TOLERANCE)


@PROPERTY_SETTINGS
@given(expression(), st.integers(1, 14))
def test_symmetric_bounded_and_unit_diagonal_when_rows_are_cols(values, block_rows):
    result = pcc_block(values, backend="cpu", block_rows=block_rows)
    np.testing.assert_array_equal(result, result.T)
    assert np.all(np.abs(result) <= 1)
    varying = ~reference_constant(values)
    np.testing.assert_allclose(np.diag(result)[varying], 1, rtol=0, atol=TOLERANCE)
    assert np.all(np.diag(result)[~varying] == 0)


@PROPERTY_SETTINGS
@given(
    expression(min_genes=2),
    st.data(),
)
def test_invariant_to_positive_affine_transforms_per_gene(values, data):
    genes = len(values)
    # Counts up to 20 scaled by at most 8 and shifted by at most 50 stay exactly representable
    # ratios apart in float64, so the transform itself adds no rounding that matters.
    scale = np.array(data.draw(st.lists(st.floats(0.125, 8), min_size=genes, max_size=genes)))
    shift = np.array(data.draw(st.lists(st.floats(-50, 50), min_size=genes, max_size=genes)))
    transformed = values * scale[:, None] + shift[:, None]
    np.testing.assert_allclose(
        pcc_block(transformed, values, backend="cpu"),
        pcc_block(values, values.copy(), backend="cpu"),
        rtol=0,
        atol=TOLERANCE,
    )


@PROPERTY_SETTINGS
@given(expression(min_genes=2), st.data())
def test_constant_genes_correlate_zero(values, data):
    constant = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    level = data.draw(st.floats(-1e3, 1e3))
    values = values.copy()
    values[constant] = level
    for result in (pcc_block(values, backend="cpu"), pcc_block(values, values[::-1], backend="cpu")):
        assert np.all(result[constant] == 0)
    assert np.all(pcc_block(values, backend="cpu")[:, constant] == 0)


@PROPERTY_SETTINGS
@given(row_and_col_expression(), st.integers(1, 14))
def test_block_size_does_not_change_the_result(pair, block_rows):
    rows, cols = pair
    whole = pcc_block(rows, cols, backend="cpu", block_rows=len(rows))
    np.testing.assert_allclose(pcc_block(rows, cols, backend="cpu", block_rows=block_rows), whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        pcc_block(rows, backend="cpu", block_rows=block_rows),
        pcc_block(rows, backend="cpu", block_rows=len(rows)),
        rtol=0,
        atol=1e-6,
    )
