"""ChargerDirectory (ocpp_core.charger_directory): facts kept per process, read whole when a change was committed
here, refreshed in the background when only old, and looked up per charger after it connects."""

import asyncio
import threading

from ocpp_core.charger_directory import ChargerDirectory, charger_connected_note, charger_facts_changed


class Facts:
    """The directory's read function over a dict the test changes, recording each call."""

    def __init__(self, values):
        self.values = dict(values)
        self.calls = []
        self.release = threading.Event()
        self.release.set()

    def read(self, charge_box_pks=None):
        self.release.wait(5)
        self.calls.append(None if charge_box_pks is None else sorted(charge_box_pks))
        pks = self.values if charge_box_pks is None else charge_box_pks
        return {pk: self.values[pk] for pk in pks if pk in self.values}


async def directory_that_read(facts: Facts) -> ChargerDirectory:
    """A directory over `facts` that has answered for charger 1 once (so it holds a whole read)."""
    directory = ChargerDirectory(name="test facts", read=facts.read)
    assert await directory.value_of(1) == facts.values[1] and facts.calls == [None]  # the first answer waits
    return directory


def test_a_directory_answers_from_what_it_holds_while_an_old_one_is_read_again(settings):
    settings.OCPP_CHARGER_FACTS_REFRESH_SECONDS = 0.05
    facts = Facts({1: "site A"})

    async def scenario():
        directory = await directory_that_read(facts)
        facts.values[1] = "site B"
        facts.release.clear()  # the next whole read takes its time
        await asyncio.sleep(0.1)
        assert directory.knows(1) and directory.known_value(1) == "site A"  # old: answered at once, read begins
        assert await asyncio.wait_for(directory.value_of(1), 0.5) == "site A"
        facts.release.set()
        await directory._reading
        return directory.known_value(1), facts.calls

    assert asyncio.run(scenario()) == ("site B", [None, None])


def test_a_change_committed_here_is_read_before_the_next_answer(settings):
    settings.OCPP_CHARGER_FACTS_REFRESH_SECONDS = 60
    facts = Facts({1: "site A"})

    async def scenario():
        directory = await directory_that_read(facts)
        facts.values[1] = "site B"
        charger_facts_changed()
        assert not directory.knows(1)
        return await directory.value_of(1)

    assert asyncio.run(scenario()) == "site B"
    assert facts.calls == [None, None]


def test_a_charger_that_connects_is_looked_up_alone(settings):
    settings.OCPP_CHARGER_FACTS_REFRESH_SECONDS = 60
    facts = Facts({1: "site A"})

    async def scenario():
        directory = await directory_that_read(facts)
        facts.values[2] = "site C"  # a charger assigned a moment before it connected
        charger_connected_note(2)
        charger_connected_note(3)
        assert not directory.knows(2)
        return await asyncio.gather(directory.value_of(2), directory.value_of(3), directory.value_of(1))

    assert asyncio.run(scenario()) == ["site C", None, "site A"]
    assert facts.calls == [None, [2, 3]]  # one whole read, then the two that connected in one batch
