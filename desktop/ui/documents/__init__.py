"""Documents in the window: the Documents menu, sources under answers, and the collections
window."""
