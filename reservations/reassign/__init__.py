"""R-STAFF-1: the branch reassigns a departing or moving staff member's relationships as one approval case."""
