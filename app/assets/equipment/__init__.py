"""Equipment register, device links (space, parent meter) and the meter tree with its
unmetered gap (损耗/未计量)."""
