"""The incident page's "Probable root cause" panel (registered in IncidentsConfig.ready)."""
from __future__ import annotations

from incidents.panels import Panel, panel_register

from .service import incident_rootcause


@panel_register("rootcause")
def rootcause_panel(*, incident, user) -> Panel | None:
    data = incident_rootcause(incident=incident)
    if not data["candidates"]:
        return None
    return Panel(key="rootcause", title="Probable root cause", template="incidents/panels/_rootcause.html",
                 data=data, order=30)
