"""junit.xml: one testcase per expectation, so CI shows which promise a run broke."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.compare import is_refused
from harness.errors import one_line
from harness.report.text import refusal, title


def run_junit(report: dict) -> str:
    """A JUnit XML document for one run; a run that did not complete (or was refused: then no expectation is a
    testcase) is an error testcase."""
    suite_name = title(report)
    cases = []
    for verdict in report["verdicts"]:
        case = ET.Element("testcase", name=verdict["name"], classname=suite_name)
        if not verdict["passed"]:
            message = f"measured {verdict['measured']}, expected {verdict['expected']}"
            ET.SubElement(case, "failure", message=message, type="expectation").text = message
        cases.append(case)
    completed = ET.Element("testcase", name="run_completed", classname=suite_name)
    if is_refused(report):  # no expectation was judged: the run's one error says why
        message = f"the run was refused before it started: {refusal(report)}"
        ET.SubElement(completed, "error", message=one_line(message, 1000), type="refused").text = message
    elif report["status"] != "completed":
        message = f"the run ended {report['status']}" + (f": {report['error']}" if report.get("error") else "")
        ET.SubElement(completed, "error", message=one_line(message, 1000), type="run").text = message
    cases.append(completed)
    duration = (report["ended_at"] or report["started_at"]) - report["started_at"]
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c.find("failure") is not None for c in cases)),
                       errors=str(sum(c.find("error") is not None for c in cases)), time=f"{duration:.3f}")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="run_id", value=report["run_id"])
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
