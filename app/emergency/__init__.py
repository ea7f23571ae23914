"""Emergency management (安全应急): incidents, impact zones, resources, response plans."""
