package io.replicore.benchmarks;

import io.replicore.mailbox.Mailbox;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What every benchmark state holds: the record size, a fresh mailbox with a {@link MailboxPeer} process in the
 * state's mode, and the payload. JMH runs this superclass's set-up and tear-down for each concrete
 * {@code @State} subclass, which only says which peer to start and which ends of the mailbox it uses.
 */
@State(Scope.Thread)
public abstract class PeerState
{
    @Param({ "64", "1024" })
    public int size;

    PeerSession session;
    UnsafeBuffer payload;

    /**
     * @return one of {@link MailboxPeer}'s modes.
     */
    abstract String peerMode();

    /**
     * Take the writers, readers or rings this state benchmarks from the peer session's mailbox.
     */
    abstract void attach(Mailbox mailbox);

    /**
     * After the peer is stopped and the mailbox removed, whether or not that went well.
     */
    void closed()
    {
    }

    @Setup(Level.Trial)
    public void setUp()
    {
        session = PeerSession.start(peerMode());
        payload = Payloads.newPayload(size);
        attach(session.mailbox());
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        try
        {
            session.close();
        }
        finally
        {
            closed();
        }
    }
}
