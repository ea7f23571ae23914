"""Green and low-carbon management (绿色低碳): energy in tce, Scope 1 and 2, PV, budgets."""
