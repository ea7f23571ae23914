"""Bulk import of every asset kind: a GeoJSON FeatureCollection or CSV, validated in full,
every bad row reported, applied all-or-nothing through the kinds' own services."""
