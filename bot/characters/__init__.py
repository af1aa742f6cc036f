"""Character cards (V1, V2, V3; JSON, PNG and CHARX): reading, normalising and writing them."""
