package io.replicore.qemutests;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The rig's network: a client in its own namespace reaches a web server in each replica kernel at that kernel's
 * address on the bridge, and nothing answers for the service's virtual IP while no primary has taken it.
 */
@Tag("qemu")
class ClientNamespaceReachesEachKernelTest
{
    private static final long CURL_DEADLINE_MS = 60_000;

    @Test
    void aClientInItsNamespaceFetchesAPageFromEachReplicaKernelAndTheVirtualIpIsUnanswered() throws Exception
    {
        try (Rig rig = Rig.open(new RigContext()))
        {
            for (final ReplicaVm vm : rig.vms())
            {
                vm.start("mkdir -p /tmp/www\n" +
                    "echo \"served by $(hostname) at " + vm.ip() + "\" > /tmp/www/index.html\n" +
                    "ip -brief addr show eth0\n" +
                    "exec busybox httpd -f -p 80 -h /tmp/www\n");
            }
            for (final ReplicaVm vm : rig.vms())
            {
                vm.awaitBoot();
            }
            final RigNetwork network = rig.network();
            for (final ReplicaVm vm : rig.vms())
            {
                assertEquals("served by " + vm.hostname() + " at " + vm.ip(), fetch(network, vm), vm.diagnostics());
            }

            final Exec.Result vip = network.runInClient(10_000, "curl", "-s", "--max-time", "3",
                "http://" + RigNetwork.VIRTUAL_IP + "/");
            assertNotEquals(0, vip.exitCode(), "something answered for the virtual IP: " + vip.stdout());

            // The client's namespace is not the host's: the host has no route to the rig's range.
            assertFalse(Exec.run(5_000, "ip", "-brief", "addr").stdout().contains(RigNetwork.CLIENT_IP));
        }
    }

    /** curl from the client namespace, retried while the guest's server starts. */
    private static String fetch(final RigNetwork network, final ReplicaVm vm) throws InterruptedException
    {
        final long deadline = System.currentTimeMillis() + CURL_DEADLINE_MS;
        Exec.Result last;
        do
        {
            last = network.runInClient(10_000, "curl", "-s", "--max-time", "3", "http://" + vm.ip() + "/");
            if (last.ok())
            {
                return last.stdout().strip();
            }
            Thread.sleep(250);
        }
        while (System.currentTimeMillis() < deadline);
        return "curl failed: " + last.exitCode() + " " + last.stderr();
    }
}
