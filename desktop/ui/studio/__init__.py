"""The "Make your own" window (Models → Make your own…): Data, Train, Compare, Use."""
