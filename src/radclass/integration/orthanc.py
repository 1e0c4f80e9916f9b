"""Plugging radclass into Orthanc: configuration, the routing Lua script and a small REST client.

Orthanc sends every *stable* image series to the radclass listener (Lua ``OnStableSeries``), the listener
annotates it and C-STOREs a structured report back (``radclass listen --forward HOST:PORT:ORTHANC``), where it
shows up as an ``SR`` series of the same study. ``examples/orthanc/`` holds the output of
:func:`orthanc_config` and :func:`lua_script` with their defaults.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: Modalities Orthanc does not send to radclass (radclass's own reports among them).
NOT_ROUTED = ("SR", "KO", "PR", "SEG", "RTSTRUCT", "DOC")


def lua_script(modality: str = "radclass") -> str:
    """The Lua routing script: each stable series, unless a report/non-image, goes to ``modality``."""
    skip = ", ".join(f"{m} = true" for m in NOT_ROUTED)
    return f"""-- radclass: send every stable image series to the radclass listener (DicomModalities "{modality}").
-- The structured report radclass sends back is an SR series and is not routed again.
local NOT_ROUTED = {{ {skip} }}

function OnStableSeries(seriesId, tags, metadata)
  if NOT_ROUTED[tags['Modality'] or ''] then
    return
  end
  print('radclass: routing stable series ' .. seriesId)
  RestApiPost('/modalities/{modality}/store', DumpJson({{ Resources = {{ seriesId }}, Synchronous = true }}))
end
"""


def orthanc_config(
    *,
    http_port: int = 8042,
    dicom_port: int = 4242,
    aet: str = "ORTHANC",
    storage: str = "/var/lib/orthanc/radclass-db",
    radclass: tuple[str, str, int] = ("RADCLASS", "127.0.0.1", 11112),
    senders: dict[str, tuple[str, str, int]] | None = None,
    lua_scripts: tuple[str, ...] = ("radclass.lua",),
    stable_age: int = 10,
) -> dict[str, Any]:
    """An Orthanc configuration routing stable series to radclass and accepting its reports.

    Only listed modalities may store (``DicomAlwaysAllowStore`` false, host checked): ``radclass`` plus
    ``senders`` (name -> (AET, host, port)), e.g. the scanners. The REST API answers local clients only.
    """
    modalities = {
        name: {"AET": a, "Host": h, "Port": p, "AllowStore": True, "AllowEcho": True}
        for name, (a, h, p) in (senders or {"scanner": ("SCANNER", "127.0.0.1", 104)}).items()
    }
    modalities["radclass"] = {
        "AET": radclass[0],
        "Host": radclass[1],
        "Port": radclass[2],
        "AllowStore": True,
        "AllowEcho": True,
    }
    return {
        "Name": "orthanc-radclass",
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "StorageCompression": False,
        "Plugins": [],
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": aet,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowEcho": True,
        "DicomCheckModalityHost": True,
        "DicomModalities": modalities,
        "LuaScripts": list(lua_scripts),
        "StableAge": stable_age,
        "ExecuteLuaEnabled": False,
        "RestApiWriteToFileSystemEnabled": False,
    }


def write_config(folder: Path, **kwargs: Any) -> Path:
    """Write ``orthanc.json`` and ``radclass.lua`` into ``folder`` (absolute script path); return the JSON."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lua = folder / "radclass.lua"
    lua.write_text(lua_script(), encoding="utf-8")
    config = orthanc_config(lua_scripts=(str(lua),), **kwargs)
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


class OrthancClient:
    """The few REST calls radclass needs (standard library only)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """GET ``path`` and decode the JSON answer."""
        with urllib.request.urlopen(self.url + path, timeout=self.timeout) as resp:
            return json.loads(resp.read())

    def get_bytes(self, path: str) -> bytes:
        """GET ``path`` as raw bytes (e.g. ``/instances/<id>/file``)."""
        with urllib.request.urlopen(self.url + path, timeout=self.timeout) as resp:
            return resp.read()

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until ``/system`` answers; return it."""
        end = time.monotonic() + timeout
        while True:
            try:
                return self.get("/system")
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.3)

    def series(self) -> list[dict[str, Any]]:
        """Every series with its main tags (``/series?expand``)."""
        return self.get("/series?expand")

    def report_series(self) -> list[dict[str, Any]]:
        """Series holding radclass structured reports."""
        return [
            s
            for s in self.series()
            if s["MainDicomTags"].get("Modality") == "SR"
            and s["MainDicomTags"].get("SeriesDescription") == "radclass sequence annotation"
        ]

    def simplified_tags(self, instance_id: str) -> dict[str, Any]:
        """``/instances/<id>/simplified-tags``."""
        return self.get(f"/instances/{instance_id}/simplified-tags")
