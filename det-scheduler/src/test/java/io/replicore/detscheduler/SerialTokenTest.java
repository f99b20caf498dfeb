package io.replicore.detscheduler;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class SerialTokenTest
{
    @Test
    void aThreadAnsweredRunsUntilItArrivesAgain()
    {
        final SerialToken token = new SerialToken();
        final int first = token.arrived(10);
        assertTrue(token.isFree());
        token.released(10, first);
        assertFalse(token.isFree(), "thread 10 runs");
        token.arrived(10);
        assertTrue(token.isFree(), "thread 10 made its next call");
    }

    @Test
    void anAnswerReportedAfterTheThreadCameBackDoesNotCountItAsRunning() throws Exception
    {
        final SerialToken token = new SerialToken();
        final int first = token.arrived(10);
        token.acquire(10, first);
        token.arrived(10); // the thread was answered and arrived with its next call before the lane said so
        token.released(10, first);
        assertTrue(token.isFree());
    }

    @Test
    void aCloneKeepsTheGrantTakenUntilTheChildHasArrived()
    {
        final SerialToken token = new SerialToken();
        final int parentCall = token.arrived(10);
        token.expectChild();
        token.released(10, parentCall);
        token.arrived(10);
        assertFalse(token.isFree(), "the child runs");
        token.arrived(11);
        assertTrue(token.isFree());
    }

    @Test
    void aCallThatGivesTheGrantBackLetsTheNextThreadGo() throws Exception
    {
        final SerialToken token = new SerialToken();
        final int ten = token.arrived(10);
        final int eleven = token.arrived(11);
        token.acquire(10, ten);
        final CountDownLatch granted = new CountDownLatch(1);
        final Thread other = new Thread(() ->
        {
            try
            {
                token.acquire(11, eleven);
                granted.countDown();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        });
        other.start();
        assertFalse(granted.await(100, TimeUnit.MILLISECONDS), "the grant is held by thread 10's call");
        token.relinquish(10, ten);
        assertTrue(granted.await(5, TimeUnit.SECONDS));
        other.join();
    }

    @Test
    void callsWaitingForTheGrantGetItFirstComeFirstServed() throws Exception
    {
        final SerialToken token = new SerialToken();
        final int one = token.arrived(1);
        final int two = token.arrived(2);
        final int three = token.arrived(3);
        token.acquire(1, one);
        final List<Integer> order = new CopyOnWriteArrayList<>();
        final Thread second = new Thread(() -> acquireAndRelease(token, 2, two, order));
        second.start();
        awaitWaiting(second);
        final Thread third = new Thread(() -> acquireAndRelease(token, 3, three, order));
        third.start();
        awaitWaiting(third);
        token.relinquish(1, one);
        second.join(5000);
        token.arrived(2); // thread 2 ran and made its next call: the grant is free for thread 3
        third.join(5000);
        assertEquals(List.of(2, 3), order);
    }

    private static void awaitWaiting(final Thread thread) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (thread.getState() != Thread.State.WAITING && System.nanoTime() < deadline)
        {
            Thread.sleep(1);
        }
    }

    private static void acquireAndRelease(final SerialToken token, final int tid, final int arrival,
        final List<Integer> order)
    {
        try
        {
            token.acquire(tid, arrival);
            order.add(tid);
            token.released(tid, arrival);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
