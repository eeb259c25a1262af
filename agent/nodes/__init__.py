"""The graph's nodes: small functions over the turn state."""
