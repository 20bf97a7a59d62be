"""junit.xml: one testcase per expectation, so CI shows which promise a run broke."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.report.text import title


def run_junit(report: dict) -> str:
    """A JUnit XML document for one run; a run that did not complete is an error testcase."""
    suite_name = title(report)
    cases = []
    for verdict in report["verdicts"]:
        case = ET.Element("testcase", name=verdict["name"], classname=suite_name)
        if not verdict["passed"]:
            message = f"measured {verdict['measured']}, expected {verdict['expected']}"
            ET.SubElement(case, "failure", message=message, type="expectation").text = message
        cases.append(case)
    completed = ET.Element("testcase", name="run_completed", classname=suite_name)
    if report["status"] != "completed":
        message = f"the run ended {report['status']}"
        ET.SubElement(completed, "error", message=message, type="run").text = message
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
