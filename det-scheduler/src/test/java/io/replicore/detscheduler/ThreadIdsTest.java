package io.replicore.detscheduler;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ThreadIdsTest
{
    @Test
    void theLogicalIdIsTheInnermostNamespacesId()
    {
        final String status = "Name:\tnd_race\nTgid:\t4242\nPid:\t4243\nNSpid:\t4243\t3\n";
        assertEquals(3, ThreadIds.lastNumberOf(status, "\nNSpid:"));
        assertEquals(4242, ThreadIds.lastNumberOf(status, "\nTgid:"));
        assertEquals(-1, ThreadIds.lastNumberOf(status, "\nNStgid:"));
    }

    @Test
    void thisJvmsOwnThreadIsKnownAndCached()
    {
        final ThreadIds ids = new ThreadIds();
        final int pid = (int)ProcessHandle.current().pid();
        final ThreadIds.Identity self = ids.of(pid);
        assertEquals(pid, self.process());
        assertTrue(self.logicalTid() > 0);
        assertEquals(pid, ids.hostTidOf(self.logicalTid()));
        assertSame(self, ids.of(pid));
    }

    @Test
    void aThreadThatIsGoneIsUnknown()
    {
        assertFalse(new ThreadIds().of(Integer.MAX_VALUE).isKnown());
    }
}
