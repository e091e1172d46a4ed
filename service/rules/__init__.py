"""The guideline's rules: pure functions of patient facts, a policy and "now"."""
