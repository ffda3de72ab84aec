"""Reading rows of validated input: one place for dense, mapped and sparse ``X``.

Every computation on the rows of ``X`` (a training batch, a scoring batch, a
statistic of the training set, the rows' hash keys) reads them with
:func:`dense_rows`, a batch at a time. A dense array or a memory map gives
its rows as they are; a sparse matrix (CSR, as validation leaves it) gives
them densified to float64, so only a batch of dense rows exists at any
time, never the whole matrix, and the values a network sees are exactly
those of ``X.toarray()``: a fit or a score on sparse input equals the one
on the same data dense, bit for bit.
"""

import scipy.sparse as sp


def dense_rows(X, rows):
    """The rows ``rows`` (an index array, a boolean mask or a slice) of
    validated ``X`` as a dense array: of a dense array or memory map as they
    are, of a sparse matrix densified (float64, C-contiguous)."""
    if sp.issparse(X):
        return X[rows].toarray()
    return X[rows]
