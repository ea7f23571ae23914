"""Asset management and the park twin: land (parcels, buildings, floors, spaces), tenancy
(enterprises, leases, occupancy), equipment and meters, bulk import, and the twin (status
roll-up, map, building view, spatial queries). ``geo`` holds the pure geometry."""
