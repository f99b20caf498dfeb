package io.replicore.qemutests;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The guest's modules are found with their dependencies in the kernel's own modules.dep (default suite). */
class InitramfsTest
{
    @Test
    void theGuestsModulesComeWithTheirDependencies() throws Exception
    {
        final RigContext ctx = new RigContext().conclude();
        final Set<String> files = Initramfs.moduleFiles(ctx.modulesDir(), Initramfs.modules(ctx));
        for (final String module : new String[] {"virtio_pci.ko", "virtio_net.ko", "net_failover.ko",
            "9pnet_virtio.ko", "9pnet.ko", "9p.ko", "netfs.ko", "overlay.ko", "virtio_ring.ko", "sch_ingress.ko",
            "cls_bpf.ko"})
        {
            assertTrue(files.stream().anyMatch(f -> f.endsWith("/" + module)), module + " missing from " + files);
        }
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> Initramfs.moduleFiles(ctx.modulesDir(), java.util.List.of("no_such_module")));
        assertTrue(ex.getMessage().contains("no_such_module"), ex.getMessage());
    }
}
