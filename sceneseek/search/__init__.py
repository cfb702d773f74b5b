"""Search stage: query → per-modality candidates → fused ranking → merged moments."""
