"""The park twin: status roll-up, the dashboard map, the building view and spatial queries
over a per-park STRtree index kept in the process."""
