package io.replicore.detscheduler;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class FutexTableTest
{
    @Test
    void aWakeLetsTheFirstWaitersGoInTheirOrder()
    {
        final FutexTable table = new FutexTable();
        final FutexTable.Waiter first = table.enqueue(7, 0x1000, -1);
        final FutexTable.Waiter second = table.enqueue(7, 0x1000, -1);
        assertEquals(1, table.wake(7, 0x1000, 1, -1));
        assertTrue(first.isWoken());
        assertFalse(second.isWoken());
        assertEquals(1, table.wake(7, 0x1000, Integer.MAX_VALUE, -1));
        assertTrue(second.isWoken());
    }

    @Test
    void aWakeReachesOnlyItsProcessAddressAndBitset()
    {
        final FutexTable table = new FutexTable();
        final FutexTable.Waiter otherProcess = table.enqueue(8, 0x1000, -1);
        final FutexTable.Waiter otherAddress = table.enqueue(7, 0x2000, -1);
        final FutexTable.Waiter otherBits = table.enqueue(7, 0x1000, 0b10);
        assertEquals(0, table.wake(7, 0x1000, 10, 0b01));
        assertFalse(otherProcess.isWoken() || otherAddress.isWoken() || otherBits.isWoken());
    }

    @Test
    void aWaiterTakenOffItsQueueIsNotWoken()
    {
        final FutexTable table = new FutexTable();
        final FutexTable.Waiter waiter = table.enqueue(7, 0x1000, -1);
        table.remove(7, 0x1000, waiter);
        assertEquals(0, table.wake(7, 0x1000, 1, -1));
    }

    @Test
    void theEndOfAThreadWakesEveryWaiterOfItsProcess() throws Exception
    {
        final FutexTable table = new FutexTable();
        final FutexTable.Waiter a = table.enqueue(7, 0x1000, -1);
        final FutexTable.Waiter b = table.enqueue(7, 0x2000, -1);
        final FutexTable.Waiter other = table.enqueue(8, 0x1000, -1);
        table.threadEnded(7);
        assertTrue(a.await(Long.MAX_VALUE, 1_000_000) && b.isWoken());
        assertFalse(other.isWoken());
    }
}
