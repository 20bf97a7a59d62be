"""What a failed vagrant command is reported with: its message, not the backtrace under it."""

from harness.cluster.vagrant import failure_text

BACKTRACE = "\n".join(f"/usr/share/vagrant/lib/vagrant/action/runner{n}.rb:{n}:in `run'" for n in range(200))


def test_a_backtrace_is_reduced_to_its_first_line_so_the_message_above_it_stays():
    log = ("Bringing machine 'node1' up with 'docker' provider...\n"
           "An error occurred: the network chaos-x overlaps with another\n" + BACKTRACE + "\nafter the frames")
    text = failure_text(log)
    assert "the network chaos-x overlaps with another" in text
    assert text.count(".rb:") == 1 and text.endswith("runner0.rb:0:in `run'\nafter the frames")


def test_a_long_output_is_cut_at_a_line_start():
    text = failure_text("\n".join(f"line {n} " + "x" * 50 for n in range(100)), limit=200)
    assert text.startswith("line ") and len(text) <= 200 and text.endswith("line 99 " + "x" * 50)


def nodes_logging_to(path):
    from harness.cluster.vagrant import VagrantNodes

    nodes = VagrantNodes.__new__(VagrantNodes)  # only the log: no Vagrantfile, engine or state needed here
    nodes._log = path
    return nodes


def failing(log, said: str, times: int):
    """A vagrant command that writes ``said`` into the log and fails ``times`` times, then answers "done"."""
    import subprocess

    calls = []

    def operation():
        calls.append(1)
        if len(calls) <= times:
            with log.open("a") as out:
                out.write(said + "\n")
            raise subprocess.CalledProcessError(1, ["vagrant", "up"])
        return "done"
    return operation, calls


def test_a_machine_locked_by_another_vagrant_process_is_waited_for_and_other_failures_are_not(tmp_path, monkeypatch):
    import pytest

    from harness.cluster import vagrant
    from harness.errors import ClusterError

    monkeypatch.setattr(vagrant.time, "sleep", lambda seconds: None)
    log = tmp_path / "vagrant.log"
    log.write_text("an old failure: because it is locked\n")  # earlier output is not this call's
    nodes = nodes_logging_to(log)
    operation, calls = failing(log, "Vagrant can't use the requested machine because it is locked! This", 3)
    assert nodes._call("up", operation, "node2") == "done" and len(calls) == 4

    operation, calls = failing(log, "The container could not be started: no such image", 1)
    with pytest.raises(ClusterError, match="no such image") as failed:
        nodes._call("up", operation, "node2")
    assert len(calls) == 1 and "because it is locked" not in str(failed.value)

    operation, calls = failing(log, "because it is locked", 1000)
    with pytest.raises(ClusterError, match="`vagrant up` failed for node2"):
        nodes._call("up", operation, "node2")
    assert len(calls) == vagrant.LOCKED_WAIT / vagrant.LOCKED_RETRY + 1  # tried for LOCKED_WAIT, then given up
