/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.h - what the acknowledgement gate (gate.bpf.c), its loader (gate.c)
 * and the coordinator (io.replicore.coordinator.logicaltcp.AckGate, which
 * repeats these layouts as *_OFFSET constants) share.  Addresses and ports
 * are in network order, as on the wire; sequence numbers in host order.
 */
#ifndef REPLICORE_GATE_H
#define REPLICORE_GATE_H

#include <linux/types.h>

#define GATE_CONNECTIONS 65536
#define GATE_SYNS 8192
#define GATE_HELD_BYTES (256 * 1024)

/* Counters, one __u64 each in the map "counters". */
#define GATE_HELD 0      /* SYN-ACKs held until their handshake was logged */
#define GATE_CLAMPED 1   /* segments whose acknowledgement was lowered to the cap */
#define GATE_NO_SYN 2    /* SYN-ACKs dropped: the client's SYN was not seen */
#define GATE_RING_FULL 3 /* SYN-ACKs dropped: the ring to the coordinator was full */
#define GATE_FAULTS 4    /* a segment could not be read or rewritten */
#define GATE_AHEAD 5     /* a client's acknowledgement beyond what a rebuilt connection sent, lowered to it */
#define GATE_COUNTERS 6

/* Flags of a connection in "caps". */
#define GATE_REBUILT 1   /* rebuilt by a new primary: the client may acknowledge what the dead kernel sent */

/* The one entry of the map "config". */
struct gate_config {
	__u32 service_address;
	__u32 reserved;
};

/* A connection, as the service's side sees it: key of "caps" and "syns" (12 bytes). */
struct gate_key {
	__u32 local_address;
	__u32 peer_address;
	__u16 local_port;
	__u16 peer_port;
};

/* An admitted connection (16 bytes). */
struct gate_cap {
	__u32 iss;      /* the initial sequence number of the SYN-ACK admitted */
	__u32 ack;      /* the highest acknowledgement number that may leave */
	__u32 flags;    /* GATE_REBUILT */
	__u32 reserved;
};

/* A client's SYN: its TCP header, options included. */
struct gate_syn {
	__u32 length;
	__u8 header[60];
};

/* A record of the ring "held" (188 bytes): a SYN-ACK held, and the SYN it answers. */
struct gate_held {
	__u32 syn_length;
	__u32 packet_length;
	__u8 syn[60];
	__u8 packet[120]; /* the SYN-ACK's IPv4 packet from its IP header on */
};

#endif
