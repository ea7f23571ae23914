"""The simulator's device passwords, kept under the state directory (mode 0600).

parktwin shows a device's MQTT password only when the device is created or its credentials
rotated, so ``parktwin seed`` writes them here and ``parktwin sim`` reads them. The file also
records how the park was generated (layout seed, device count), so the simulator rebuilds the
same park.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass
class ParkCredentials:
    park_id: str
    layout_seed: int = 1
    devices: int = 2000
    passwords: dict[str, str] = field(default_factory=dict)


def path_for(state_dir: Path, park_id: str) -> Path:
    return state_dir / "sim" / f"{park_id}.credentials.json"


def load(state_dir: Path, park_id: str) -> ParkCredentials | None:
    path = path_for(state_dir, park_id)
    if not path.exists():
        return None
    data = orjson.loads(path.read_bytes())
    return ParkCredentials(
        park_id=data["park_id"],
        layout_seed=int(data["layout_seed"]),
        devices=int(data["devices"]),
        passwords=dict(data["passwords"]),
    )


def save(state_dir: Path, creds: ParkCredentials) -> Path:
    """Write atomically, readable by the owner only."""
    path = path_for(state_dir, creds.park_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            orjson.dumps(
                {
                    "park_id": creds.park_id,
                    "layout_seed": creds.layout_seed,
                    "devices": creds.devices,
                    "passwords": creds.passwords,
                },
                option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
            )
        )
    tmp.replace(path)
    return path
