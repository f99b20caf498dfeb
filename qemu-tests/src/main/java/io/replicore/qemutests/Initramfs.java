package io.replicore.qemutests;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The replica kernels' initramfs, built at run time into the work directory (nothing large is checked in): the
 * static busybox, the {@code /init} script (a resource of this module), and the modules the guest needs with
 * their dependencies and the kernel's {@code modules.*} files, so busybox {@code modprobe} loads them in order.
 * The guest's real root is the host's, over virtio-9p: see the init script.
 */
public final class Initramfs
{
    /**
     * What the init script loads, in order (the list goes in the archive as {@code /modules}): the PCI transport,
     * the network card, 9p over virtio and the overlay.
     */
    public static final List<String> MODULES = List.of("virtio_pci", "virtio_net", "9pnet_virtio", "9p", "overlay");
    /**
     * Then, when the machines have a network, the tc hooks and BPF classifier of the coordinators' acknowledgement
     * gate (loaded here: the kernel's own module requests look in this archive, not the 9p root). A rig without a
     * network serves no client, so it runs no gate and its kernel need not have them.
     */
    public static final List<String> GATE_MODULES = List.of("sch_ingress", "cls_bpf");

    private static final String INIT_RESOURCE = "init";

    private Initramfs()
    {
    }

    /**
     * Build {@code ctx.workDir()/initramfs.cpio} (an uncompressed newc archive: the kernel takes it as it is).
     *
     * @return the archive.
     */
    public static Path build(final RigContext ctx)
    {
        final Path root = ctx.workDir().resolve("initramfs-root");
        final Path archive = ctx.workDir().resolve("initramfs.cpio");
        try
        {
            Files.createDirectories(root);
            for (final String dir : new String[] {"bin", "proc", "sys", "dev", "tmp"})
            {
                Files.createDirectories(root.resolve(dir));
            }
            Files.copy(ctx.busybox(), root.resolve("bin/busybox"), StandardCopyOption.REPLACE_EXISTING);
            try (InputStream init = Initramfs.class.getResourceAsStream(INIT_RESOURCE))
            {
                if (init == null)
                {
                    throw new IllegalStateException("resource " + INIT_RESOURCE + " is missing from the build");
                }
                Files.copy(init, root.resolve("init"), StandardCopyOption.REPLACE_EXISTING);
            }
            Files.setPosixFilePermissions(root.resolve("init"), PosixFilePermissions.fromString("rwxr-xr-x"));
            final List<String> names = modules(ctx);
            Files.writeString(root.resolve("modules"), String.join("\n", names) + "\n");

            final Path modules = ctx.modulesDir();
            final Path guestModules = root.resolve("lib/modules").resolve(modules.getFileName());
            Files.createDirectories(guestModules);
            try (Stream<Path> files = Files.list(modules))
            {
                for (final Path file : files.filter(p -> p.getFileName().toString().startsWith("modules."))
                    .filter(Files::isRegularFile).toList())
                {
                    Files.copy(file, guestModules.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            for (final String relative : moduleFiles(modules, names))
            {
                final Path target = guestModules.resolve(relative);
                Files.createDirectories(target.getParent());
                Files.copy(modules.resolve(relative), target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot lay out the initramfs in " + root, ex);
        }

        Exec.run(60_000, "sh", "-c", "cd \"$1\" && find . | cpio -o -H newc --quiet > \"$2\"", "sh",
            root.toString(), archive.toString()).orThrow();
        return archive;
    }

    /** The modules a guest of {@code ctx} loads: {@link #MODULES}, and {@link #GATE_MODULES} with a network. */
    public static List<String> modules(final RigContext ctx)
    {
        return ctx.network() ? Stream.concat(MODULES.stream(), GATE_MODULES.stream()).toList() : MODULES;
    }

    /**
     * The files of {@code names} and of every module they depend on, from modules.dep
     * ({@code kernel/x/a.ko: kernel/y/b.ko ...}), paths relative to the modules directory.
     */
    static Set<String> moduleFiles(final Path modulesDir, final List<String> names) throws IOException
    {
        final Map<String, String> fileOf = new HashMap<>();
        final Map<String, List<String>> depsOf = new HashMap<>();
        for (final String line : Files.readAllLines(modulesDir.resolve("modules.dep")))
        {
            final int colon = line.indexOf(':');
            if (colon < 0)
            {
                continue;
            }
            final String file = line.substring(0, colon).trim();
            final String rest = line.substring(colon + 1).trim();
            fileOf.put(moduleName(file), file);
            depsOf.put(file, rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
        }

        final Set<String> files = new LinkedHashSet<>();
        final Deque<String> todo = new ArrayDeque<>();
        for (final String name : names)
        {
            final String file = fileOf.get(name.replace('-', '_'));
            if (file == null)
            {
                if (isBuiltIn(modulesDir, name))
                {
                    continue;
                }
                throw new IllegalArgumentException("kernel module " + name + " is neither in " +
                    modulesDir.resolve("modules.dep") + " nor built in (modules.builtin): the replica kernel needs " +
                    "it; use a kernel that has it (Debian's linux-image-amd64 does)");
            }
            todo.add(file);
        }
        while (!todo.isEmpty())
        {
            final String file = todo.poll();
            if (files.add(file))
            {
                todo.addAll(depsOf.getOrDefault(file, List.of()));
            }
        }
        return files;
    }

    private static boolean isBuiltIn(final Path modulesDir, final String name) throws IOException
    {
        final Path builtin = modulesDir.resolve("modules.builtin");
        return Files.exists(builtin) &&
            Files.readAllLines(builtin).stream().anyMatch(line -> moduleName(line).equals(name.replace('-', '_')));
    }

    private static String moduleName(final String file)
    {
        String base = file.substring(file.lastIndexOf('/') + 1);
        final int ko = base.indexOf(".ko");
        if (ko >= 0)
        {
            base = base.substring(0, ko);
        }
        return base.replace('-', '_');
    }
}
