"""Graph nodes: plan -> gate -> wave (one Send branch per query) -> gate ... -> synthesise
-> critic -> cast."""
