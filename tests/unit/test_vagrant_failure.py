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
