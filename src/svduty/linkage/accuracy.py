"""Precision, recall and F1 from pair counts, as every linkage score reports them."""

from __future__ import annotations


class PairAccuracy:
    """Mixed into a score that counts the pairs it predicted, those of them that are true,
    and the true pairs (links) there are."""

    predicted: int
    true_positives: int
    true_links: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_links if self.true_links else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0
