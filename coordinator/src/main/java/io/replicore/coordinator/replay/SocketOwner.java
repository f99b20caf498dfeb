package io.replicore.coordinator.replay;

import io.replicore.coordinator.intercept.SeccompListener;
import jnr.ffi.Pointer;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The primary's side of I/O ownership: every real socket of the application, and every file only the primary
 * opened for writing, is handed to the backups before the application may use it, so that it outlives the
 * primary; and after a takeover, the bytes that the old primary already sent on a connection are not sent again.
 * <p>
 * A descriptor is named by its number and its owner: the process whose table holds it, by its id inside the
 * replica, the same in every replica. A process that inherited a socket hands it over the first time it acts on it.
 */
public interface SocketOwner
{
    /**
     * Called before the primary handles a call of process {@code owner} ({@code hostPid} on the host): the first
     * one after a takeover puts the sockets the backup held for that process in place of its stand-ins.
     */
    void beforeCall(int owner, int hostPid, SeccompListener listener) throws ReplicaStop;

    /**
     * Called with a duplicate of the application's descriptor {@code appFd} whenever the primary acts on it; the
     * first time it is a socket, the backups get their own duplicate.
     */
    void share(int owner, int appFd, int dupFd) throws ReplicaStop;

    /**
     * Hand the backups a duplicate of {@code appFd} whatever it is (a file only the primary opened for writing).
     */
    void shareAlways(int owner, int appFd, int dupFd) throws ReplicaStop;

    /**
     * @return a connection the old primary accepted as it died, for the application's next accept, or -1.
     */
    int takeAcceptedUnseen();

    /**
     * @return true if {@code appFd} is a socket the backups hold (its input is peeked, logged, then consumed).
     */
    boolean isSocket(int owner, int appFd);

    /**
     * Accept a connection on {@code listenDup}, the primary's duplicate of the application's listening socket, so
     * that it outlives this primary from the moment it leaves the queue until {@link #shareAccepted} has handed it
     * over (an accept ring the backups hold, where the kernel has one). Not thread-safe: one accept at a time.
     *
     * @param flags accept4's flags for the primary's descriptor of the connection.
     * @return the connection, or -errno.
     */
    int accept(int listenDup, int flags, Pointer address, Pointer lengthAddress);

    /**
     * Hand the backups a connection the primary has just accepted, before anything else happens to it: the backups
     * number it by the accept's record. {@link #accepted} follows once the application's number is known.
     */
    void shareAccepted(int connection) throws ReplicaStop;

    /**
     * Between kernel partitions, where no socket can be handed over: write the logical TCP state of
     * {@code connection}, just accepted, at {@code offset} of {@code buffer}, for the accept's record.
     *
     * @return its length, or 0 where the backups hold the socket itself.
     * @throws ReplicaStop if the state cannot be read (no backup could take the connection over).
     */
    int describeConnection(int connection, MutableDirectBuffer buffer, int offset) throws ReplicaStop;

    /**
     * The connection shared by {@link #shareAccepted} is the application's {@code appFd}.
     *
     * @param connection the primary's own descriptor of it, which the caller closes.
     * @param state its logical TCP state as {@link #describeConnection} wrote it (at offset 0), or null where it
     * wrote none.
     */
    void accepted(int owner, int appFd, int connection, DirectBuffer state);

    /**
     * The application read {@code bytes} of {@code appFd}'s input, logged and consumed, or the end of it if
     * {@code end}: between kernel partitions its kernel may now acknowledge them to the client.
     */
    void delivered(int owner, int appFd, long bytes, boolean end);

    /**
     * Process {@code owner} is about to be told which of its descriptors are ready (epoll_wait, poll, select,
     * FIONREAD): between kernel partitions, the input of its connections that is there is logged first, so that
     * a new primary has what this answer tells of.
     */
    void announceReadable(int owner) throws ReplicaStop;

    /**
     * The application closed {@code appFd}.
     */
    void closed(int owner, int appFd);

    /**
     * Process {@code owner} ended: its descriptors are closed, and the backups let go of their duplicates.
     */
    void ended(int owner);

    /**
     * @return one more than the highest descriptor number of {@code owner} it knows anything about.
     */
    int trackedLimit(int owner);

    /**
     * @return how many of the next {@code count} bytes the application writes to {@code appFd} the old primary had
     * already sent before it was lost (0 almost always); they are counted as written, not sent again.
     */
    long alreadySent(int owner, int appFd, long count);
}
