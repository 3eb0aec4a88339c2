"""deepmarkets.beliefs: markets, securities, market makers, books and scoring rules."""
