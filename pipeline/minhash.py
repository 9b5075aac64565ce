"""MinHash signatures and LSH band keys for paragraphs, in numpy, a batch at a time.

Candidates for corpus-wide near-duplicates come from locality-sensitive hashing: two paragraphs
whose sets of word shingles overlap share a band key with a probability that grows steeply with
their Jaccard similarity; only pairs that share a band key are compared with rapidfuzz.

The signature is one-permutation hashing with densification by rotation (Li, Owen and Zhang
2012; Shrivastava and Li 2014): each shingle is hashed once, the hash's top bits pick one of
``bins`` bins, and each bin keeps its smallest value; an empty bin borrows the value of the next
non-empty bin to its right. Each bin of two sets then agrees with probability equal to
their Jaccard similarity, as with ``bins`` independent permutations, at the cost of one hash per
shingle instead of ``bins``: bench/dedup_params.py measures both.

Words are hashed with blake2b, never with Python's ``hash``: signatures are stored across runs
and must not change between processes.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # the FNV-64 prime: odd, so invertible modulo 2**64
_EMPTY = np.uint32(0xFFFFFFFF)
_ROTATION = 0x9E3779B1  # odd: distinct distances give distinct offsets modulo 2**32


def _mix(x: U64) -> U64:
    """splitmix64's finaliser: every input bit flips about half of the output bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _powers(base: int, n: int) -> U64:
    out = np.full(n, base, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)


class _WordHashes(dict[str, int]):
    """Stable 64-bit hashes of words, computed once per word per process."""

    def __missing__(self, word: str) -> int:
        if len(self) > 4_000_000:  # bound the memory of a long-lived worker
            self.clear()
        value = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        self[word] = value
        return value


_WORD_HASHES = _WordHashes()


def word_hashes(keys: list[str]) -> tuple[U64, npt.NDArray[np.int64]]:
    """64-bit hashes of the words of ``keys`` (match keys: words separated by spaces), and
    for each word the index of its key."""
    split = [key.split() for key in keys]
    counts = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    words = np.fromiter(
        map(_WORD_HASHES.__getitem__, itertools.chain.from_iterable(split)),
        dtype=np.uint64,
        count=int(counts.sum()),
    )
    return words, np.repeat(np.arange(len(keys), dtype=np.int64), counts)


def shingle_hashes(keys: list[str], size: int = 5) -> tuple[U64, npt.NDArray[np.int64]]:
    """Hashes of every run of ``size`` consecutive words of each key (one shingle of all its
    words for a key shorter than that), and for each shingle the index of its key."""
    words, owner = word_hashes(keys)
    n = words.size
    if n == 0:
        return words, owner
    with np.errstate(over="ignore"):
        acc = words.copy()
        for k in range(1, size):
            shifted = np.zeros(n, dtype=np.uint64)
            shifted[: n - k] = words[k:]
            acc = acc * np.uint64(_P) + shifted
        acc = _mix(acc)
    # Word j starts a whole shingle when word j + size - 1 belongs to the same key.
    whole = np.zeros(n, dtype=bool)
    whole[: max(0, n - size + 1)] = owner[: max(0, n - size + 1)] == owner[size - 1 :]
    keep = whole.copy()
    # Keys with fewer words than ``size``: their first word starts one shorter shingle.
    counts = np.bincount(owner, minlength=len(keys))
    short = np.flatnonzero((counts > 0) & (counts < size))
    if short.size:
        first = np.searchsorted(owner, short)
        with np.errstate(over="ignore"):
            for j, count in zip(first, counts[short], strict=True):
                h = np.uint64(0)
                for k in range(count):
                    h = h * np.uint64(_P) + words[j + k]
                acc[j] = _mix(np.array([h], dtype=np.uint64))[0]
        keep[first] = True
    return acc[keep], owner[keep]


def signatures(keys: list[str], bins: int = 128, shingle: int = 5) -> U32:
    """One signature of ``bins`` uint32 values per key (rows in the order of ``keys``)."""
    if bins & (bins - 1) or not 2 <= bins <= 1 << 16:
        raise ValueError("bins must be a power of two between 2 and 65536")
    shingles, owner = shingle_hashes(keys, shingle)
    n = len(keys)
    flat = np.full(n * bins, _EMPTY, dtype=np.uint32)
    if shingles.size:
        shift = np.uint64(64 - (bins.bit_length() - 1))
        bin_no = (shingles >> shift).astype(np.int64)
        value = (shingles & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never the EMPTY mark
        np.minimum.at(flat, owner * bins + bin_no, value)
    sig = flat.reshape(n, bins)
    _densify(sig)
    return sig


def _densify(sig: U32) -> None:
    """Fill each empty bin with the value of the first non-empty bin to its right (wrapping
    around), plus a constant times the distance: "densification by rotation" (Shrivastava and
    Li 2014), after which two texts agree in a bin with probability J, as in a full bin."""
    n, bins = sig.shape
    empty = sig == _EMPTY
    if not empty.any():
        return
    # For every bin of the row written twice, the index of the next non-empty bin.
    doubled = np.concatenate((empty, empty), axis=1)
    index = np.where(doubled, 2 * bins, np.arange(2 * bins))
    nearest = np.minimum.accumulate(index[:, ::-1], axis=1)[:, ::-1][:, :bins]
    whole_row_empty = nearest >= 2 * bins
    nearest = np.where(whole_row_empty, 0, nearest)
    distance = (nearest - np.arange(bins)).astype(np.uint32)
    borrowed = sig[np.arange(n)[:, None], nearest % bins] + distance * np.uint32(_ROTATION)
    sig[:] = np.where(empty & ~whole_row_empty, borrowed, sig)


def band_keys(sig: U32, bands: int, rows: int) -> U32:
    """Hash each band of ``rows`` consecutive signature values into one uint32 key; the band
    number goes into the hash, so keys of different bands never meet."""
    if bands * rows > sig.shape[1]:
        raise ValueError(
            f"{bands} bands of {rows} rows need {bands * rows} bins, not {sig.shape[1]}"
        )
    n = sig.shape[0]
    cut = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.broadcast_to(np.arange(bands, dtype=np.uint64), (n, bands)).copy()
        for r in range(rows):
            acc = _mix(acc * np.uint64(_P) + cut[:, :, r])
    return (acc >> np.uint64(32)).astype(np.uint32)
