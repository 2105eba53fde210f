"""Personal data under UU 27/2022: per-number keys (crypto-shredding), access records, erasure, retention."""
