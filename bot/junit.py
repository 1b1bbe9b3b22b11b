"""The regression suite as a JUnit XML report, so a team gates its agent's own CI on it.

One testcase per regression case: `<failure>` when it ran and did not pass, `<error>` when it could not
run. Suite properties name the agent, its version, the model and the KB revision. No conversation text is
written (the file is a CI artifact)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SUITE_NAME = "flywheel-regression"


def junit_xml(results: Sequence[Any], identity: Any, *, timestamp: dt.datetime) -> ET.ElementTree:
    failures = sum(1 for r in results if r.failing)
    errors = sum(1 for r in results if r.could_not_run)
    total = sum(r.seconds for r in results)
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors), "skipped": "0",
              "time": f"{total:.3f}"}
    root = ET.Element("testsuites", {"name": "flywheel", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts,
                                              "timestamp": timestamp.replace(microsecond=0).isoformat()})
    props = ET.SubElement(suite, "properties")
    for name, value in (("agent", identity.agent), ("model", identity.model), ("kb_revision", identity.kb_revision),
                        ("changed_since_previous_run", "; ".join(identity.changed))):
        ET.SubElement(props, "property", {"name": name, "value": "" if value is None else str(value)})
    for r in results:
        case = ET.SubElement(suite, "testcase", {"classname": "flywheel.regression",
                                                 "name": f"case {r.case_id} (gap #{r.gap_id})",
                                                 "time": f"{r.seconds:.3f}"})
        if r.could_not_run:
            ET.SubElement(case, "error", {"message": "could not run", "type": "could-not-run"}).text = str(r.error)
        elif r.failing:
            state = "broke" if r.broke else "still failing"
            failure = ET.SubElement(case, "failure", {"message": f"{state}: verdict {r.verdict}", "type": state})
            failure.text = "\n".join([f"replay run #{r.run_id}; agent {r.agent}; model {r.model}; "
                                      f"KB rev {r.kb_revision}", *r.changes])
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(path: Path, results: Sequence[Any], identity: Any, *, timestamp: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(results, identity, timestamp=timestamp).write(path, encoding="utf-8", xml_declaration=True)
