"""Tenancy: enterprises (tenants), leases, occupancy (出租率/空置率) and expiring leases."""
