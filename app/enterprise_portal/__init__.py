"""The enterprise's own view (企业自助服务): its record, leases and premises, devices with their
readings, alarms, energy, carbon account, 亩均 result and rent, read-only, under
``/api/v1/parks/{park_id}/enterprises/{enterprise_id}/...``.

Every figure comes from the domain that owns it (tenancy, devices, telemetry, alarms, carbon,
economy); this package only narrows each to the one enterprise and puts them side by side.
"""
